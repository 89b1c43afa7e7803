/* api/wipe.h - hsafe_wipe: zeroing the compiler cannot remove.
 * Part of hsafe (the manual is hsafe.h). Public declarations; uses
 * core/base.h.
 */
#ifndef HSAFE__API_WIPE_H
#define HSAFE__API_WIPE_H
HSAFE__BEGIN_C

/* Set len bytes at p to zero in a way the compiler cannot remove, using the
 * wipe backend chosen at compile time (see hsafe_config_string()). NULL
 * with len 0 is fine; NULL with len > 0 is ignored. */
HSAFE_API void hsafe_wipe(void *p, size_t len);

HSAFE__END_C
#endif /* HSAFE__API_WIPE_H */
