/* axmul: the export macro of the public API. libaxmul is built with -fvisibility=hidden, so that
 * the shared library exports the functions declared with AXMUL_API in the public headers and
 * nothing of its internals. */
#ifndef AXMUL_API_H
#define AXMUL_API_H

#if defined(_WIN32) && defined(AXMUL_BUILDING)
#define AXMUL_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define AXMUL_API __attribute__((visibility("default")))
#else
#define AXMUL_API
#endif

#endif
