/* axmul-gen: turns a C function computing an approximate product into a multiplier table.
 *
 * The user's file is compiled twice with their compiler: once to an object file whose symbol
 * table (read with nm) tells which functions it defines, and once as a shared object together
 * with a generated wrapper that #includes the file, so that the call FUNCTION(a, b) goes through
 * the function's own prototype whatever its integer types are. The table is evaluated in a
 * child process with a time limit: the user's code is trusted as code, but an infinite loop or a
 * crash must not take the tool down or leave temporary files behind. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "axmul.h"
#include "lib/tool/tool.h"

#define errorf axmul__tool_error

#define PROG "axmul-gen"

enum { EXIT_CHECK = AXMUL__EXIT_CHECK, EXIT_USAGE = AXMUL__EXIT_USAGE };

/* Temporary files, global so that the signal handler can remove them. */
static char tmp_dir[PATH_MAX];
static char tmp_obj[PATH_MAX + 16];
static char tmp_wrap[PATH_MAX + 16];
static char tmp_so[PATH_MAX + 16];
static char tmp_nm[PATH_MAX + 16];
static volatile pid_t child_pid;

static void cleanup_tmp(void)
{
    /* unlink/rmdir only: this also runs from a signal handler. */
    if (tmp_obj[0])
        unlink(tmp_obj);
    if (tmp_wrap[0])
        unlink(tmp_wrap);
    if (tmp_so[0])
        unlink(tmp_so);
    if (tmp_nm[0])
        unlink(tmp_nm);
    if (tmp_dir[0])
        rmdir(tmp_dir);
}

static void on_signal(int sig)
{
    if (child_pid != 0) /* negative: a compiler's process group */
        kill(child_pid, SIGKILL);
    cleanup_tmp();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: " PROG " SOURCE.c [OPTIONS]\n"
               "Compile a C function that computes an approximate 8x8 product and write its\n"
               "65,536-entry lookup table (131,072 bytes, little-endian uint16, entry a*256+b).\n"
               "\n"
               "  -f, --function NAME   function to tabulate; called as NAME(a, b) with a (the\n"
               "                        activation) as the FIRST argument. Default: the only\n"
               "                        external function named mul8u_* or mul8s_*, else\n"
               "                        approximate_mult, else the only external function.\n"
               "  -o, --output FILE     output table (default: NAME.bin; '-' = standard output)\n"
               "  -s, --signed          int8 x int8 -> int16 table (implied by a mul8s_ name)\n"
               "  -u, --unsigned        uint8 x uint8 -> uint16 table even for a mul8s_ name\n"
               "  -D, --define NAME[=VALUE]  preprocessor definition for SOURCE (repeatable)\n"
               "      --cc CC           C compiler (default: $CC, else cc)\n"
               "      --cflags FLAGS    extra compiler flags (split at spaces)\n"
               "  -t, --timeout SEC     stop the evaluation after SEC seconds (default 10)\n"
               "      --compile-timeout SEC  stop each compiler run after SEC seconds (default\n"
               "                        120; the compiler also gets at most 8 GiB of memory)\n"
               "  -q, --quiet           print nothing on success\n"
               "  -h, --help            show this help and exit\n"
               "  -V, --version         show the version and exit\n"
               "\n"
               "Exit status: 0 table written; 1 the source does not compile, the function is\n"
               "missing or ambiguous, a result is out of range, or the evaluation failed;\n"
               "2 usage or I/O error.\n");
}

/* ---------------------------------------------------------------- argument vectors */

typedef struct {
    char **v;
    size_t n, cap;
} argv_t;

static int av_push(argv_t *a, const char *s)
{
    if (a->n + 2 > a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        char **nv = realloc(a->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n] = strdup(s);
    if (!a->v[a->n])
        return -1;
    a->n++;
    a->v[a->n] = NULL;
    return 0;
}

static int av_push_split(argv_t *a, const char *s)
{
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ' ' && *e != '\t')
            e++;
        char buf[4096];
        size_t len = (size_t)(e - p);
        if (len >= sizeof buf)
            return -1;
        memcpy(buf, p, len);
        buf[len] = '\0';
        if (av_push(a, buf) != 0)
            return -1;
        p = e;
    }
    return 0;
}

static void av_free(argv_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

/* Waits for child pid for at most limit seconds, polling; target: what to kill (the pid, or
 * minus its process group) when the limit passes or a signal stops this tool. 0 when it ended
 * (*status), 1 when it was killed at the limit, -1 when waitpid failed (errno). */
static int wait_child(pid_t pid, pid_t target, double limit, int *status)
{
    child_pid = target;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned sleep_us = 200;
    int rc = 0;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            rc = -1;
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec) > limit) {
            kill(target, SIGKILL);
            waitpid(pid, status, 0);
            rc = 1;
            break;
        }
        usleep(sleep_us);
        if (sleep_us < 20000)
            sleep_us *= 2;
    }
    child_pid = 0;
    return rc;
}

/* The compile steps' limits: a source that #includes a FIFO or /dev/stdin would make the
 * compiler wait forever, a template-free C file still can make it allocate without end. */
static double compile_seconds = 120.0; /* --compile-timeout */
#define COMPILE_BYTES ((rlim_t)8 << 30)

/* Runs argv in its own process group (so that a timeout or Ctrl-C stops the compiler's own
 * children, cc1 and as, too) with the compile limits; stdout of the child goes to out_path when
 * given. Returns the exit status, -1 when the program could not be started or waited for
 * (message printed), -2 after the time limit (message printed). */
static int run_program(char **argv, const char *out_path)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        errorf("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        struct rlimit rl = {COMPILE_BYTES, COMPILE_BYTES};
        setrlimit(RLIMIT_AS, &rl);
        if (out_path) {
            FILE *f = freopen(out_path, "w", stdout);
            if (!f)
                _exit(126);
        } else {
            /* Compiler chatter must never reach a table written to stdout. */
            dup2(STDERR_FILENO, STDOUT_FILENO);
        }
        execvp(argv[0], argv);
        fprintf(stderr, PROG ": error: cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* also here: the signal handler may run before the child's own call */
    int status;
    const int w = wait_child(pid, -pid, compile_seconds, &status);
    if (w < 0)
        return -1;
    if (w > 0) {
        errorf("'%s' did not finish within %g s (does the source #include a FIFO or a "
               "device?); stopped it",
               argv[0], compile_seconds);
        return -2;
    }
    kill(-pid, SIGKILL); /* whatever the compiler left running */
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* ---------------------------------------------------------------- function detection */

typedef struct {
    char name[256];
    int global;
} sym_t;

typedef struct {
    sym_t *v;
    size_t n;
} syms_t;

/* Parses `nm --defined-only` output: "ADDR TYPE NAME" lines; keeps text symbols (T/t/W). */
static int read_symbols(const char *path, syms_t *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024];
    size_t cap = 0;
    out->v = NULL;
    out->n = 0;
    while (fgets(line, sizeof line, f)) {
        char addr[128], type[8], name[512];
        if (sscanf(line, "%127s %7s %511s", addr, type, name) != 3)
            continue;
        if (strlen(type) != 1 || !strchr("TtWi", type[0]))
            continue;
        if (strlen(name) >= sizeof out->v[0].name)
            continue;
        if (out->n == cap) {
            cap = cap ? 2 * cap : 32;
            sym_t *nv = realloc(out->v, cap * sizeof *nv);
            if (!nv) {
                fclose(f);
                return -1;
            }
            out->v = nv;
        }
        snprintf(out->v[out->n].name, sizeof out->v[out->n].name, "%s", name);
        out->v[out->n].global = type[0] != 't';
        out->n++;
    }
    fclose(f);
    return 0;
}

static void list_candidates(const syms_t *s, int (*keep)(const sym_t *))
{
    int first = 1;
    for (size_t i = 0; i < s->n; i++) {
        if (!keep(&s->v[i]))
            continue;
        fprintf(stderr, "%s%s", first ? "" : ", ", s->v[i].name);
        first = 0;
    }
    if (first)
        fputs("(none)", stderr);
    fputc('\n', stderr);
}

static int is_mul8_global(const sym_t *s)
{
    return s->global && (strncmp(s->name, "mul8u_", 6) == 0 || strncmp(s->name, "mul8s_", 6) == 0);
}

static int is_global(const sym_t *s)
{
    return s->global;
}

static int is_any(const sym_t *s)
{
    (void)s;
    return 1;
}

/* Picks the function to tabulate; returns 0 and the name, or 1 after printing why not. */
static int choose_function(const syms_t *s, const char *source, const char *wanted, char *out,
                           size_t out_len)
{
    if (wanted) {
        for (size_t i = 0; i < s->n; i++)
            if (strcmp(s->v[i].name, wanted) == 0) {
                snprintf(out, out_len, "%s", wanted);
                return 0;
            }
        errorf("%s: no function named '%s' is defined there", source, wanted);
        fprintf(stderr, "  functions defined: ");
        list_candidates(s, is_any);
        return 1;
    }
    size_t n = 0, idx = 0;
    for (size_t i = 0; i < s->n; i++)
        if (is_mul8_global(&s->v[i])) {
            n++;
            idx = i;
        }
    if (n == 1) {
        snprintf(out, out_len, "%s", s->v[idx].name);
        return 0;
    }
    if (n > 1) {
        errorf("%s: several mul8u_/mul8s_ functions; choose one with --function", source);
        fprintf(stderr, "  candidates: ");
        list_candidates(s, is_mul8_global);
        return 1;
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].global && strcmp(s->v[i].name, "approximate_mult") == 0) {
            snprintf(out, out_len, "approximate_mult");
            return 0;
        }
    n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].global) {
            n++;
            idx = i;
        }
    if (n == 1) {
        snprintf(out, out_len, "%s", s->v[idx].name);
        return 0;
    }
    if (n == 0) {
        errorf("%s: defines no externally visible function; name one with --function", source);
        fprintf(stderr, "  functions defined: ");
        list_candidates(s, is_any);
    } else {
        errorf("%s: several externally visible functions and none is named mul8u_*, mul8s_* "
               "or approximate_mult; choose one with --function",
               source);
        fprintf(stderr, "  candidates: ");
        list_candidates(s, is_global);
    }
    return 1;
}

/* ---------------------------------------------------------------- wrapper */

/* The wrapper stores every result as a 64-bit value and a flag saying whether it is to be read
 * as unsigned, so that range errors can show the value the function really returned. Floating
 * results are accepted only when they are integers. */
static const char wrapper_tail[] =
    "\n#include <stdint.h>\n"
    "#include <math.h>\n"
    "static long long axmul_gen__from_fp(long double v, unsigned char *flag)\n"
    "{\n"
    "    if (!(v == v) || v != (long double)(long long)v) { *flag = 2; return 0; }\n"
    "    *flag = 0; return (long long)v;\n"
    "}\n"
    "#define AXMUL_GEN__STORE(r, i) do { \\\n"
    "    vals[i] = _Generic((r), float: axmul_gen__from_fp((r), &flags[i]), \\\n"
    "        double: axmul_gen__from_fp((r), &flags[i]), \\\n"
    "        long double: axmul_gen__from_fp((r), &flags[i]), \\\n"
    "        default: (((__typeof__(r))-1 < (__typeof__(r))0) \\\n"
    "            ? (flags[i] = 0, (long long)(r)) \\\n"
    "            : (flags[i] = 1, (long long)(unsigned long long)(r)))); \\\n"
    "} while (0)\n"
    "int axmul_gen__run(int is_signed, long long *vals, unsigned char *flags);\n"
    "int axmul_gen__run(int is_signed, long long *vals, unsigned char *flags)\n"
    "{\n"
    "    for (int ia = 0; ia < 256; ia++)\n"
    "        for (int ib = 0; ib < 256; ib++) {\n"
    "            int i = ia * 256 + ib;\n"
    "            if (is_signed) {\n"
    "                int a = (int)(int8_t)(uint8_t)ia, b = (int)(int8_t)(uint8_t)ib;\n"
    "                __typeof__(AXMUL_GEN_FN(a, b)) r = AXMUL_GEN_FN(a, b);\n"
    "                AXMUL_GEN__STORE(r, i);\n"
    "            } else {\n"
    "                unsigned a = (unsigned)ia, b = (unsigned)ib;\n"
    "                __typeof__(AXMUL_GEN_FN(a, b)) r = AXMUL_GEN_FN(a, b);\n"
    "                AXMUL_GEN__STORE(r, i);\n"
    "            }\n"
    "        }\n"
    "    return 0;\n"
    "}\n";

static int write_wrapper(const char *path, const char *source_abs, const char *fn)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("/* generated by axmul-gen */\n#include \"", f);
    for (const char *p = source_abs; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', f);
        fputc(*p, f);
    }
    fprintf(f, "\"\n#define AXMUL_GEN_FN %s\n", fn);
    fputs(wrapper_tail, f);
    return fclose(f) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- evaluation */

typedef struct {
    long long vals[AXMUL_TABLE_ENTRIES];
    unsigned char flags[AXMUL_TABLE_ENTRIES];
    int done;
    char msg[512];
} shared_t;

static const char *signame(int sig)
{
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGFPE:
        return "SIGFPE (division by zero?)";
    case SIGBUS:
        return "SIGBUS";
    case SIGILL:
        return "SIGILL";
    case SIGABRT:
        return "SIGABRT";
    case SIGKILL:
        return "SIGKILL";
    default:
        return "a signal";
    }
}

/* Evaluates the function in a child; returns 0 on success, 1 after printing an error. */
static int evaluate(const char *so_path, const char *fn, int is_signed, double timeout_s,
                    shared_t *sh)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        errorf("fork: %s", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        /* Whatever the user's code prints must not end up in a table sent to stdout. */
        dup2(STDERR_FILENO, STDOUT_FILENO);
        /* A crash must end the child with its signal even where the tool runs under a
         * sanitizer or another handler, so that it is reported as a crash. */
        const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
            signal(fatal[i], SIG_DFL);
        void *h = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            snprintf(sh->msg, sizeof sh->msg, "cannot load the compiled function: %s", dlerror());
            _exit(3);
        }
        int (*run)(int, long long *, unsigned char *);
        *(void **)&run = dlsym(h, "axmul_gen__run");
        if (!run) {
            snprintf(sh->msg, sizeof sh->msg, "wrapper entry point missing: %s", dlerror());
            _exit(3);
        }
        run(is_signed, sh->vals, sh->flags);
        sh->done = 1;
        _exit(0);
    }
    int status = 0;
    const int w = wait_child(pid, pid, timeout_s, &status);
    if (w < 0) {
        errorf("waitpid: %s", strerror(errno));
        return 1;
    }
    if (w > 0) {
        errorf("%s(a, b) did not finish within %g s (an infinite loop?); stopped it "
               "(raise the limit with --timeout)",
               fn, timeout_s);
        return 1;
    }
    if (WIFSIGNALED(status)) {
        errorf("%s(a, b) crashed with %s while the table was evaluated", fn,
               signame(WTERMSIG(status)));
        return 1;
    }
    if (sh->msg[0]) {
        errorf("%s", sh->msg);
        return 1;
    }
    if (!sh->done) {
        errorf("%s(a, b) ended the process (exit status %d) before the table was complete", fn,
               WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 1;
    }
    return 0;
}

/* Checks ranges in table order and fills t; returns 0, or 1 after naming the first bad pair. */
static int fill_table(const shared_t *sh, const char *fn, int is_signed, axmul_table *t)
{
    uint16_t *v = axmul_table_data_mut(t);
    long long lo = is_signed ? -32768 : 0, hi = is_signed ? 32767 : 65535;
    for (unsigned i = 0; i < AXMUL_TABLE_ENTRIES; i++) {
        unsigned ia = i >> 8, ib = i & 255;
        int a = is_signed ? (int)(int8_t)ia : (int)ia;
        int b = is_signed ? (int)(int8_t)ib : (int)ib;
        if (sh->flags[i] == 2) {
            errorf("%s(%d, %d) returned a non-integer floating-point value", fn, a, b);
            return 1;
        }
        if (sh->flags[i] == 1) {
            unsigned long long u = (unsigned long long)sh->vals[i];
            if (u > (unsigned long long)hi) {
                errorf("%s(%d, %d) = %llu is outside the %s range %lld..%lld (not truncated)", fn,
                       a, b, u, is_signed ? "int16" : "uint16", lo, hi);
                return 1;
            }
            v[i] = (uint16_t)u;
        } else {
            long long s = sh->vals[i];
            if (s < lo || s > hi) {
                errorf("%s(%d, %d) = %lld is outside the %s range %lld..%lld (not truncated)", fn,
                       a, b, s, is_signed ? "int16" : "uint16", lo, hi);
                return 1;
            }
            v[i] = (uint16_t)(s & 0xffff);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- main */

/* The command line. */
typedef struct {
    const char *function, *output, *cc, *cflags, *source;
    int force_signed, quiet;
    double timeout_s;
    argv_t defines;
    char source_abs[PATH_MAX];
} gen_opts;

/* Parses the options into *o: 0 to go on, 1 after --help or --version, -1 after a usage error
 * (printed). */
static int gen_parse(int argc, char **argv, gen_opts *o)
{
    static const struct option opts[] = {
        {"function", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"signed", no_argument, NULL, 's'},
        {"unsigned", no_argument, NULL, 'u'},
        {"define", required_argument, NULL, 'D'},
        {"cc", required_argument, NULL, 1},
        {"cflags", required_argument, NULL, 2},
        {"timeout", required_argument, NULL, 't'},
        {"compile-timeout", required_argument, NULL, 3},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = axmul__tool_getopt(argc, argv, "f:o:suD:t:qhV", opts)) != -1) {
        switch (c) {
        case 'f':
            o->function = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 's':
            o->force_signed = 1;
            break;
        case 'u':
            o->force_signed = 0;
            break;
        case 'D': {
            if (!optarg[0] || optarg[0] == '=') {
                errorf("--define '%s': expected NAME or NAME=VALUE", optarg);
                return -1;
            }
            char buf[4096];
            if (snprintf(buf, sizeof buf, "-D%s", optarg) >= (int)sizeof buf) {
                errorf("--define: longer than %zu characters", sizeof buf - 3);
                return -1;
            }
            if (av_push(&o->defines, buf) != 0) {
                errorf("out of memory");
                return -1;
            }
            break;
        }
        case 1:
            o->cc = optarg;
            break;
        case 2:
            o->cflags = optarg;
            break;
        case 't':
        case 3: {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(v > 0) || v > 86400) {
                errorf("--%s '%s': expected a number of seconds in (0, 86400]",
                       c == 't' ? "timeout" : "compile-timeout", optarg);
                return -1;
            }
            if (c == 't')
                o->timeout_s = v;
            else
                compile_seconds = v;
            break;
        }
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            printf(PROG " (axmul) %s\n", axmul_version());
            return 1;
        default:
            fprintf(stderr, "Try '" PROG " --help' for more information.\n");
            return -1;
        }
    }
    if (optind != argc - 1) {
        errorf(optind == argc ? "missing SOURCE.c" : "exactly one SOURCE.c expected");
        fprintf(stderr, "Try '" PROG " --help' for more information.\n");
        return -1;
    }
    o->source = argv[optind];
    return 0;
}

/* The source file (readable, not a folder; its absolute path), the compiler, and the temporary
 * folder with the signal handlers that remove it. 0, or -1 after an error. */
static int gen_prepare(gen_opts *o)
{
    const char *source = o->source;
    struct stat st;
    if (stat(source, &st) != 0) {
        errorf("%s: %s", source, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        errorf("%s: is a directory, not a C source file", source);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) { /* a FIFO would make the compiler wait for a writer */
        errorf("%s: is not a regular file (a FIFO or device), not a C source file", source);
        return -1;
    }
    if (access(source, R_OK) != 0) {
        errorf("%s: %s", source, strerror(errno));
        return -1;
    }
    if (axmul__tool_refuse_overwrite("-o", o->output, &source, 1) != 0)
        return -1;
    if (!realpath(source, o->source_abs)) {
        errorf("%s: %s", source, strerror(errno));
        return -1;
    }
    if (!o->cc)
        o->cc = getenv("CC");
    if (!o->cc || !*o->cc)
        o->cc = "cc";
    const char *tmpbase = getenv("TMPDIR");
    if (!tmpbase || !*tmpbase)
        tmpbase = "/tmp";
    snprintf(tmp_dir, sizeof tmp_dir, "%s/axmul-gen.XXXXXX", tmpbase);
    if (!mkdtemp(tmp_dir)) {
        errorf("cannot create a temporary folder in %s: %s", tmpbase, strerror(errno));
        tmp_dir[0] = '\0';
        return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    snprintf(tmp_obj, sizeof tmp_obj, "%s/src.o", tmp_dir);
    snprintf(tmp_wrap, sizeof tmp_wrap, "%s/wrap.c", tmp_dir);
    snprintf(tmp_so, sizeof tmp_so, "%s/wrap.so", tmp_dir);
    snprintf(tmp_nm, sizeof tmp_nm, "%s/symbols.txt", tmp_dir);
    return 0;
}

/* Step 1: compiles the source alone (its diagnostics are the user's) and reads its symbols,
 * which tell which functions exist and which are static; chooses the function into fn. 0, or
 * the exit status after an error. */
static int gen_compile(const gen_opts *o, syms_t *syms, char *fn, size_t fn_len)
{
    argv_t av = {0};
    if (av_push_split(&av, o->cc) || av.n == 0 || av_push(&av, "-c") || av_push(&av, "-O0") ||
        av_push(&av, "-fPIC") || (o->cflags && av_push_split(&av, o->cflags))) {
        errorf("bad --cc/--cflags value");
        av_free(&av);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < o->defines.n; i++)
        av_push(&av, o->defines.v[i]);
    av_push(&av, "-o");
    av_push(&av, tmp_obj);
    av_push(&av, "-x"); /* C whatever the file is called (.bin would go to the linker) */
    av_push(&av, "c");
    av_push(&av, o->source_abs);
    int r = run_program(av.v, NULL);
    av_free(&av);
    if (r == -2)
        return EXIT_CHECK;
    if (r != 0) {
        if (r == 127)
            errorf("compiler '%s' could not be run (set --cc or CC)", o->cc);
        else
            errorf("%s: does not compile (the compiler's diagnostics are above)", o->source);
        return r == 127 ? EXIT_USAGE : EXIT_CHECK;
    }
    const char *nm = getenv("NM");
    if (!nm || !*nm)
        nm = "nm";
    av_push_split(&av, nm);
    av_push(&av, "--defined-only");
    av_push(&av, tmp_obj);
    r = run_program(av.v, tmp_nm);
    av_free(&av);
    if (r != 0 || access(tmp_obj, F_OK) != 0 || read_symbols(tmp_nm, syms) != 0) {
        errorf("cannot list the functions of %s with '%s' (binutils' nm; set NM)", o->source, nm);
        return EXIT_USAGE;
    }
    return choose_function(syms, o->source, o->function, fn, fn_len) != 0 ? EXIT_CHECK : 0;
}

/* Step 2: the wrapper #includes the source, so static helpers and the function's own prototype
 * are in scope and FUNCTION(a, b) converts a and b to whatever parameter types it has; built as
 * a shared object. 0, or the exit status after an error. */
static int gen_build(const gen_opts *o, const char *fn)
{
    if (write_wrapper(tmp_wrap, o->source_abs, fn) != 0) {
        errorf("cannot write %s: %s", tmp_wrap, strerror(errno));
        return EXIT_USAGE;
    }
    argv_t av = {0};
    av_push_split(&av, o->cc);
    av_push(&av, "-shared");
    av_push(&av, "-fPIC");
    av_push(&av, "-O2");
    if (o->cflags)
        av_push_split(&av, o->cflags);
    for (size_t i = 0; i < o->defines.n; i++)
        av_push(&av, o->defines.v[i]);
    av_push(&av, "-o");
    av_push(&av, tmp_so);
    av_push(&av, tmp_wrap);
    av_push(&av, "-lm");
    const int r = run_program(av.v, NULL);
    av_free(&av);
    if (r == -2)
        return EXIT_CHECK;
    if (r != 0) {
        errorf("%s: cannot call %s(a, b) with two integer operands and an integer result "
               "(diagnostics above)",
               o->source, fn);
        return EXIT_CHECK;
    }
    return 0;
}

/* Step 3: evaluates the function in a child with a time limit and writes the table. 0, or the
 * exit status after an error. */
static int gen_table(const gen_opts *o, const char *fn, int is_signed)
{
    shared_t *sh =
        mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        errorf("mmap: %s", strerror(errno));
        return EXIT_USAGE;
    }
    int rc = EXIT_CHECK;
    axmul_table *table = NULL;
    char outbuf[PATH_MAX];
    const char *output = o->output;
    if (evaluate(tmp_so, fn, is_signed, o->timeout_s, sh) != 0)
        goto out;
    if (axmul_table_create(is_signed, &table) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        rc = EXIT_USAGE;
        goto out;
    }
    if (fill_table(sh, fn, is_signed, table) != 0)
        goto out;
    if (!output) {
        snprintf(outbuf, sizeof outbuf, "%s.bin", fn);
        output = outbuf;
    }
    const char *src = o->source;
    if (axmul__tool_refuse_overwrite("-o", output, &src, 1) != 0) {
        rc = EXIT_USAGE;
        goto out;
    }
    if (axmul_table_save(table, output) != AXMUL_OK) {
        errorf("%s", axmul_error_detail());
        rc = EXIT_USAGE;
        goto out;
    }
    if (!o->quiet && strcmp(output, "-") != 0)
        fprintf(stderr, PROG ": %s(a, b) -> %s (%s)\n", fn, output,
                is_signed ? "signed int8 x int8 -> int16" : "unsigned uint8 x uint8 -> uint16");
    rc = 0;
out:
    munmap(sh, sizeof *sh);
    axmul_table_free(table);
    return rc;
}

int main(int argc, char **argv)
{
    axmul__tool_set_name(PROG);
    gen_opts o;
    memset(&o, 0, sizeof o);
    o.force_signed = -1;
    o.timeout_s = 10.0;
    int rc = gen_parse(argc, argv, &o);
    if (rc != 0) {
        av_free(&o.defines);
        return rc > 0 ? AXMUL__EXIT_OK : EXIT_USAGE;
    }
    if (gen_prepare(&o) != 0) {
        av_free(&o.defines);
        cleanup_tmp();
        return EXIT_USAGE;
    }
    syms_t syms = {0};
    char fn[256];
    if ((rc = gen_compile(&o, &syms, fn, sizeof fn)) == 0 && (rc = gen_build(&o, fn)) == 0)
        rc =
            gen_table(&o, fn, o.force_signed >= 0 ? o.force_signed : strncmp(fn, "mul8s_", 6) == 0);
    free(syms.v);
    av_free(&o.defines);
    cleanup_tmp();
    return rc;
}
