//go:build tools

// Package tools only records the dependency on Jaeger's main package, so that
// `go mod tidy` keeps it; e2e/build.sh builds github.com/jaegertracing/jaeger/cmd/jaeger.
package tools

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
