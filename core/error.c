/*
 * uco_strerror() (uco/error.h): errnos in glibc's words, resolver codes in
 * getaddrinfo's.
 */
#include <netdb.h>
#include <string.h>

#include <uco/error.h>

_Static_assert(EAI_NONAME < 0 && UCO_IS_EAI(UCO_EAI(EAI_NONAME)) &&
		       UCO_IS_EAI(UCO_EAI(EAI_SYSTEM)),
	       "getaddrinfo's codes are small negative numbers on Linux");

UCO_API const char *uco_strerror(int err)
{
	const char *s;

	if (err == 0)
		return "Success";
	if (UCO_IS_EAI(err))
		return gai_strerror(UCO_EAI_CODE(err));
	if (err < 0) {
		if (err == -2147483647 - 1)
			return "Unknown error";
		err = -err;
	}
	/* strerrordesc_np(): glibc's static, locale-free table (2.32 on);
	 * strerror() may build "Unknown error N" in a shared buffer. */
#if defined(__GLIBC__) &&                                                     \
	(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	s = strerrordesc_np(err);
#else
	s = err < 4096 ? strerror(err) : NULL;
#endif
	return s ? s : "Unknown error";
}
