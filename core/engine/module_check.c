/* Checking a backend module's descriptor without trusting any pointer in it.
 *
 * Readability is tested by writing the bytes into a pipe: the kernel copies them and returns
 * EFAULT for an unmapped page instead of raising SIGSEGV. Code pointers are checked against
 * the module's own executable segments (dl_iterate_phdr), so a pointer into another library,
 * into the module's data, or anywhere else, means the table is not what it claims.
 *
 * The functions that read the module's memory are not instrumented by AddressSanitizer: a
 * table that lies runs past its object into what a sanitizer build calls a red zone, and
 * finding that out is their job. The pipe is written with the raw system call for the same
 * reason (the sanitizer's write() checks the bytes written). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "engine/module_check.h"

#define UNTRUSTED_READS __attribute__((no_sanitize_address))

typedef void (*slot_fn)(void);

#define MAX_CODE_RANGES 8
#define MAX_DESCRIPTION 4096

typedef struct {
    int pipe[2];                       /* the readability probe */
    uintptr_t code[MAX_CODE_RANGES][2]; /* the module's executable segments, [start, end) */
    int n_code;
} checker;

/* Whether n bytes at p can be read (n at most a pipe's capacity, 64 KiB). */
static int readable(checker *c, const void *p, size_t n)
{
    ssize_t w = syscall(SYS_write, c->pipe[1], p, n);
    char sink[4096];
    for (ssize_t left = w; left > 0;) {
        ssize_t r = read(c->pipe[0], sink, left < (ssize_t)sizeof sink ? (size_t)left : sizeof sink);
        if (r <= 0)
            break;
        left -= r;
    }
    return w == (ssize_t)n;
}

/* Whether s is a readable string shorter than max; its length in *len. Tested a page at a
 * time, so a string that ends just before an unmapped page is fine. */
UNTRUSTED_READS static int readable_string(checker *c, const char *s, size_t max, size_t *len)
{
    const size_t page = 4096;
    for (size_t i = 0; i < max; i++) {
        if ((i == 0 || ((uintptr_t)(s + i) % page) == 0) &&
            !readable(c, s + i, 1))
            return 0;
        if (s[i] == '\0') {
            *len = i;
            return 1;
        }
    }
    return 0;
}

struct find_module {
    const struct link_map *lm;
    checker *c;
};

static int collect_code(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct find_module *f = arg;
    if (info->dlpi_addr != f->lm->l_addr || strcmp(info->dlpi_name, f->lm->l_name) != 0)
        return 0;
    for (int i = 0; i < info->dlpi_phnum && f->c->n_code < MAX_CODE_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            uintptr_t start = info->dlpi_addr + ph->p_vaddr;
            f->c->code[f->c->n_code][0] = start;
            f->c->code[f->c->n_code][1] = start + ph->p_memsz;
            f->c->n_code++;
        }
    }
    return 1;
}

static int in_code(const checker *c, const void *p)
{
    for (int i = 0; i < c->n_code; i++)
        if ((uintptr_t)p >= c->code[i][0] && (uintptr_t)p < c->code[i][1])
            return 1;
    return 0;
}

/* The table's slots, then init, shutdown and the probes: NULL or the module's own code. */
UNTRUSTED_READS static int check_code_pointers(checker *c, const mgpt_backend_desc *d, char *reason, size_t len)
{
    const slot_fn *slots = (const slot_fn *)(const void *)d->kernels;
    if ((uintptr_t)slots % _Alignof(slot_fn) != 0) {
        snprintf(reason, len, "kernel table is misaligned (%p)", (const void *)slots);
        return -1;
    }
    size_t bytes = (size_t)d->n_kernels * sizeof slots[0];
    if (!readable(c, slots, bytes)) {
        snprintf(reason, len, "kernel table of %u slots is not readable (n_kernels larger than "
                 "the table?)", d->n_kernels);
        return -1;
    }
    for (uint32_t i = 0; i < d->n_kernels; i++) {
        if (slots[i] && !in_code(c, (const void *)(uintptr_t)slots[i])) {
            snprintf(reason, len, "kernel table slot %u of %u is not code of this module (%p): "
                     "n_kernels larger than the table?", i, d->n_kernels,
                     (const void *)(uintptr_t)slots[i]);
            return -1;
        }
    }
    if ((d->init && !in_code(c, (const void *)(uintptr_t)d->init)) ||
        (d->shutdown && !in_code(c, (const void *)(uintptr_t)d->shutdown))) {
        snprintf(reason, len, "init or shutdown is not code of this module");
        return -1;
    }
    if (d->probes) {
        if ((uintptr_t)d->probes % _Alignof(mgpt_probes) != 0 ||
            !readable(c, d->probes, sizeof *d->probes)) {
            snprintf(reason, len, "probe table is not readable");
            return -1;
        }
        if ((d->probes->peak_flops && !in_code(c, (const void *)(uintptr_t)d->probes->peak_flops)) ||
            (d->probes->stream_read && !in_code(c, (const void *)(uintptr_t)d->probes->stream_read))) {
            snprintf(reason, len, "a probe is not code of this module");
            return -1;
        }
    }
    return 0;
}

/* The fields every check below reads, in order; -1 with reason at the first failure. */
UNTRUSTED_READS static int check_desc(checker *c, const mgpt_backend_desc *d, const char *name, char *reason,
                      size_t len)
{
    /* abi_major, abi_minor, desc_size: the prefix every version has had */
    if ((uintptr_t)d % _Alignof(mgpt_backend_desc) != 0 || !readable(c, d, 8)) {
        snprintf(reason, len, "entry symbol is not readable, aligned data (%p)", (const void *)d);
        return -1;
    }
    /* the first 32 bits have always held the version: a v1-v3 module's abi_version reads
     * as its major here */
    if (d->abi_major != MGPT_BACKEND_ABI_MAJOR) {
        snprintf(reason, len, "built for ABI major version %u, but this mgpt speaks %u.x",
                 d->abi_major, MGPT_BACKEND_ABI_MAJOR);
        return -1;
    }
    if (d->desc_size < sizeof(mgpt_backend_desc)) {
        snprintf(reason, len, "descriptor is %u bytes, expected at least %u", d->desc_size,
                 (unsigned)sizeof(mgpt_backend_desc));
        return -1;
    }
    if (!readable(c, d, sizeof *d)) {
        snprintf(reason, len, "descriptor of %u bytes is not readable", d->desc_size);
        return -1;
    }
    size_t n;
    if (!d->name || !readable_string(c, d->name, 64, &n)) {
        snprintf(reason, len, "descriptor's name is not a readable string (%p)",
                 (const void *)d->name);
        return -1;
    }
    if (strcmp(d->name, name) != 0) {
        snprintf(reason, len, "descriptor names itself '%s', not the file's name", d->name);
        return -1;
    }
    if (d->description && !readable_string(c, d->description, MAX_DESCRIPTION, &n)) {
        snprintf(reason, len, "descriptor's description is not a readable string of less "
                 "than %d bytes", MAX_DESCRIPTION);
        return -1;
    }
    if (!d->kernels || d->n_kernels == 0) {
        snprintf(reason, len, "descriptor has no kernel table");
        return -1;
    }
    if (d->n_kernels > MGPT_MODULE_MAX_SLOTS) {
        snprintf(reason, len, "descriptor claims %u kernel slots (at most %u are believable)",
                 d->n_kernels, MGPT_MODULE_MAX_SLOTS);
        return -1;
    }
    if (check_code_pointers(c, d, reason, len) != 0)
        return -1;
    if (d->precision != MGPT_PRECISION_FP32 && d->precision != MGPT_PRECISION_BF16) {
        snprintf(reason, len, "unknown precision class %u", d->precision);
        return -1;
    }
    return 0;
}

const mgpt_backend_desc *mgpt_module_check(void *handle, const char *name, char *reason,
                                           size_t len)
{
    char sym[128];
    snprintf(sym, sizeof sym, MGPT_BACKEND_SYMBOL_PREFIX "%s", name);
    dlerror();
    const mgpt_backend_desc *d = dlsym(handle, sym);
    if (!d) {
        snprintf(reason, len, "no entry symbol %s (a module mgpt_NAME.so must export "
                 "mgpt_backend_NAME)", sym);
        return NULL;
    }
    checker c = {{-1, -1}, {{0, 0}}, 0};
    struct link_map *lm = NULL;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm) {
        snprintf(reason, len, "cannot find the module's mapping: %s", dlerror());
        return NULL;
    }
    struct find_module f = {lm, &c};
    dl_iterate_phdr(collect_code, &f);
    if (pipe2(c.pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(reason, len, "cannot check the descriptor: pipe: %s", strerror(errno));
        return NULL;
    }
    int rc = check_desc(&c, d, name, reason, len);
    close(c.pipe[0]);
    close(c.pipe[1]);
    return rc == 0 ? d : NULL;
}
