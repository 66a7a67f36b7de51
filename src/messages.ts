/**
 * zod/mini loads no locale, so a failed check whose schema gives no message reads "Invalid input".
 * Parses whose messages people read (configuration errors, `alm-otel validate`, the testing helpers)
 * pass these English messages, for that parse only: nothing global is configured.
 */
import { en } from 'zod/locales';

export const ENGLISH = { error: en().localeError };
