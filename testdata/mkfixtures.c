/*
 * mkfixtures: write the test fixture hives of deskheap.
 *
 *   mkfixtures DIR            every fixture, into the existing directory DIR
 *   mkfixtures --sample FILE  the bundled demo SYSTEM hive, as FILE
 *
 * Exits 0, or prints an error and exits 1.
 *
 * Nothing here comes from a real Windows installation. The program writes a
 * minimal empty hive itself (base block, one hbin holding the root key, its
 * security cell and one free cell), then opens that with hivex and adds the
 * keys and values of each fixture. The output is deterministic: hivex stamps
 * no clock time (a new key inherits its parent's timestamp, commit leaves the
 * base block's time alone), so two runs give byte-identical files.
 *
 * Stand-alone on purpose: it links hivex and talloc only, never the deskheap
 * library, so a bug in the library cannot hide in its own fixtures.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hivex.h>
#include <talloc.h>

/* ------------------------------------------------------------------ */
/* Errors: this is a tool, so any failure ends the run.                */

static const char *progname = "mkfixtures";

static void die(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *check_alloc(void *p)
{
	if (p == NULL)
		die("out of memory");
	return p;
}

/* ------------------------------------------------------------------ */
/* Little-endian fields.                                                */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* ------------------------------------------------------------------ */
/* Files.                                                               */

static void write_file(const char *path, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("%s: write: %s", path, n < 0 ? strerror(errno) : "short write");
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0)
		die("%s: close: %s", path, strerror(errno));
}

/* Read at most max bytes of path (all of it when max is 0). */
static uint8_t *read_file(TALLOC_CTX *mem, const char *path, size_t max,
			  size_t *len_out)
{
	struct stat st;
	uint8_t *buf;
	size_t len, got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0)
		die("%s: stat: %s", path, strerror(errno));
	len = (size_t)st.st_size;
	if (max != 0 && len > max)
		len = max;
	buf = check_alloc(talloc_size(mem, len ? len : 1));
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("%s: read: %s", path, n < 0 ? strerror(errno) : "file shrank");
		got += (size_t)n;
	}
	close(fd);
	*len_out = len;
	return buf;
}

/* ------------------------------------------------------------------ */
/* The base block and the minimal empty hive.                           */

#define BASE_SIZE 4096u
#define BIN_SIZE 4096u
#define BINS_START 4096u          /* cell offsets count from here */

/* Base block fields (offsets in the first 4096 bytes). */
#define RB_SEQ1 4
#define RB_SEQ2 8
#define RB_TIME 12
#define RB_MAJOR 20
#define RB_MINOR 24
#define RB_TYPE 28
#define RB_FORMAT 32
#define RB_ROOT 36
#define RB_BINS_SIZE 40
#define RB_CLUSTER 44
#define RB_NAME 48
#define RB_CHECKSUM 508

/* hbin header. */
#define HBIN_OFFSET 4
#define HBIN_SIZE 8
#define HBIN_TIME 20
#define HBIN_HEADER 32

/* nk record fields, relative to the record (after the 4-byte cell size). */
#define NK_FLAGS 0x02
#define NK_TIME 0x04
#define NK_PARENT 0x10
#define NK_SUBKEYS 0x1C
#define NK_VSUBKEYS 0x20
#define NK_VALUES 0x28
#define NK_SK 0x2C
#define NK_CLASS 0x30
#define NK_NAMELEN 0x48
#define NK_NAME 0x4C
#define KEY_HIVE_ENTRY 0x0004
#define KEY_NO_DELETE 0x0008
#define KEY_COMP_NAME 0x0020

/* sk record fields. */
#define SK_FLINK 0x04
#define SK_BLINK 0x08
#define SK_REFCOUNT 0x0C
#define SK_SDLEN 0x10
#define SK_SD 0x14

/* 2020-01-01 00:00:00 UTC as a FILETIME: the one timestamp of every
 * fixture (base block, hbin, root key, and through hivex every key). */
#define FIXTURE_FILETIME UINT64_C(132223104000000000)

#define ROOT_NAME "ROOT"
#define BASE_MINOR 3u

/* XOR of the 127 dwords before offset 508, without Windows' 0 / -1
 * adjustment (hivex's own rule; see regf_checksum). */
static uint32_t regf_xor(const uint8_t *block)
{
	uint32_t x = 0;

	for (size_t i = 0; i < RB_CHECKSUM / 4; i++)
		x ^= get32(block + 4 * i);
	return x;
}

/* The checksum Windows expects: 0xFFFFFFFF is stored as 0xFFFFFFFE and 0
 * as 1. hivex checks and writes the plain XOR, so a block whose XOR hits
 * either value would be dirty to Windows or unreadable to hivex: refuse to
 * produce one (changing FIXTURE_FILETIME would get around it). */
static uint32_t regf_checksum(const uint8_t *block, const char *what)
{
	uint32_t x = regf_xor(block);

	if (x == 0 || x == 0xFFFFFFFFu)
		die("%s: base block checksum is 0x%08x, which Windows and hivex "
		    "store differently", what, (unsigned)x);
	return x;
}

/* A SID: S-1-<authority>-<sub...>. Returns its length. */
static size_t put_sid(uint8_t *p, uint8_t authority, size_t nsub,
		      const uint32_t *sub)
{
	p[0] = 1;                        /* revision */
	p[1] = (uint8_t)nsub;
	memset(p + 2, 0, 6);             /* identifier authority, big-endian */
	p[7] = authority;
	for (size_t i = 0; i < nsub; i++)
		put32(p + 8 + 4 * i, sub[i]);
	return 8 + 4 * nsub;
}

/* ACCESS_ALLOWED_ACE, container-inherit. Returns its length. */
static size_t put_ace(uint8_t *p, uint32_t mask, uint8_t authority,
		      size_t nsub, const uint32_t *sub)
{
	size_t len = 8 + put_sid(p + 8, authority, nsub, sub);

	p[0] = 0;                        /* ACCESS_ALLOWED_ACE_TYPE */
	p[1] = 0x02;                     /* CONTAINER_INHERIT_ACE */
	put16(p + 2, (uint16_t)len);
	put32(p + 4, mask);
	return len;
}

/* A self-relative security descriptor: owner Administrators, group SYSTEM,
 * DACL: Administrators and SYSTEM full control, Everyone read. Returns its
 * length (a multiple of 4). */
static size_t put_security_descriptor(uint8_t *p)
{
	static const uint32_t admins[] = { 32, 544 };   /* S-1-5-32-544 */
	static const uint32_t system[] = { 18 };        /* S-1-5-18 */
	static const uint32_t everyone[] = { 0 };       /* S-1-1-0 */
	const uint32_t key_all_access = 0x000F003F, key_read = 0x00020019;
	size_t off = 20, dacl, acl_len, owner, group;
	uint16_t aces = 0;

	/* DACL first, as Windows lays them out. */
	dacl = off;
	off += 8;
	off += put_ace(p + off, key_all_access, 5, 2, admins);
	off += put_ace(p + off, key_all_access, 5, 1, system);
	off += put_ace(p + off, key_read, 1, 1, everyone);
	aces = 3;
	acl_len = off - dacl;
	p[dacl] = 2;                     /* ACL_REVISION */
	p[dacl + 1] = 0;
	put16(p + dacl + 2, (uint16_t)acl_len);
	put16(p + dacl + 4, aces);
	put16(p + dacl + 6, 0);

	owner = off;
	off += put_sid(p + off, 5, 2, admins);
	group = off;
	off += put_sid(p + off, 5, 1, system);

	p[0] = 1;                        /* revision */
	p[1] = 0;
	put16(p + 2, 0x8004);            /* SE_SELF_RELATIVE | SE_DACL_PRESENT */
	put32(p + 4, (uint32_t)owner);
	put32(p + 8, (uint32_t)group);
	put32(p + 12, 0);                /* no SACL */
	put32(p + 16, (uint32_t)dacl);
	return off;
}

/* The minimal empty hive: a base block and one hbin holding the root nk
 * cell, its sk cell and the rest of the bin as one free cell. buf must hold
 * BASE_SIZE + BIN_SIZE bytes. */
static void build_empty_hive(uint8_t *buf)
{
	uint8_t *base = buf, *bin = buf + BASE_SIZE;
	const char *fname = "SYSTEM";
	size_t name_len = strlen(ROOT_NAME);
	uint32_t nk_off = HBIN_HEADER;   /* offsets relative to BINS_START */
	uint32_t nk_size = (uint32_t)((4 + NK_NAME + name_len + 7) & ~(size_t)7);
	uint32_t sk_off = nk_off + nk_size;
	uint32_t sk_size, free_off;
	uint8_t *nk, *sk;
	size_t sd_len;

	memset(buf, 0, BASE_SIZE + BIN_SIZE);

	/* hbin header */
	memcpy(bin, "hbin", 4);
	put32(bin + HBIN_OFFSET, 0);
	put32(bin + HBIN_SIZE, BIN_SIZE);
	put64(bin + HBIN_TIME, FIXTURE_FILETIME);

	/* root key (nk) */
	put32(bin + nk_off, (uint32_t)-(int32_t)nk_size);   /* used: negative */
	nk = bin + nk_off + 4;
	memcpy(nk, "nk", 2);
	put16(nk + NK_FLAGS, KEY_HIVE_ENTRY | KEY_NO_DELETE | KEY_COMP_NAME);
	put64(nk + NK_TIME, FIXTURE_FILETIME);
	put32(nk + NK_PARENT, 0);        /* meaningless for the root */
	put32(nk + NK_SUBKEYS, 0xFFFFFFFFu);
	put32(nk + NK_VSUBKEYS, 0xFFFFFFFFu);
	put32(nk + NK_VALUES, 0xFFFFFFFFu);
	put32(nk + NK_SK, sk_off);
	put32(nk + NK_CLASS, 0xFFFFFFFFu);
	put16(nk + NK_NAMELEN, (uint16_t)name_len);
	memcpy(nk + NK_NAME, ROOT_NAME, name_len);

	/* its security (sk), the only one: linked to itself */
	sk = bin + sk_off + 4;
	memcpy(sk, "sk", 2);
	put32(sk + SK_FLINK, sk_off);
	put32(sk + SK_BLINK, sk_off);
	put32(sk + SK_REFCOUNT, 1);
	sd_len = put_security_descriptor(sk + SK_SD);
	put32(sk + SK_SDLEN, (uint32_t)sd_len);
	sk_size = (uint32_t)((4 + SK_SD + sd_len + 7) & ~(size_t)7);
	put32(bin + sk_off, (uint32_t)-(int32_t)sk_size);

	/* the rest: one free cell (positive size) */
	free_off = sk_off + sk_size;
	put32(bin + free_off, BIN_SIZE - free_off);

	/* base block */
	memcpy(base, "regf", 4);
	put32(base + RB_SEQ1, 1);
	put32(base + RB_SEQ2, 1);
	put64(base + RB_TIME, FIXTURE_FILETIME);
	put32(base + RB_MAJOR, 1);
	put32(base + RB_MINOR, BASE_MINOR);
	put32(base + RB_TYPE, 0);        /* primary file */
	put32(base + RB_FORMAT, 1);      /* direct memory load */
	put32(base + RB_ROOT, nk_off);
	put32(base + RB_BINS_SIZE, BIN_SIZE);
	put32(base + RB_CLUSTER, 1);
	for (size_t i = 0; fname[i] != '\0'; i++)
		put16(base + RB_NAME + 2 * i, (uint16_t)fname[i]);
	put32(base + RB_CHECKSUM, regf_checksum(base, "empty hive"));
}

/* How to alter a committed hive's base block. */
enum base_edit {
	EDIT_NONE,
	EDIT_DIRTY_SEQ,     /* secondary = primary - 1, checksum recomputed */
	EDIT_DIRTY_SUM,     /* checksum wrong */
};

static void edit_base_block(TALLOC_CTX *mem, const char *path, uint32_t minor,
			    enum base_edit edit)
{
	size_t len;
	uint8_t *buf = read_file(mem, path, 0, &len);
	uint32_t sum;

	if (len < BASE_SIZE || memcmp(buf, "regf", 4) != 0)
		die("%s: not a hive after commit", path);
	put32(buf + RB_MINOR, minor);
	if (edit == EDIT_DIRTY_SEQ)
		put32(buf + RB_SEQ2, get32(buf + RB_SEQ1) - 1);
	sum = regf_checksum(buf, path);
	if (edit == EDIT_DIRTY_SUM)
		sum ^= 0x5A5A5A5Au;
	put32(buf + RB_CHECKSUM, sum);
	write_file(path, buf, len);
	talloc_free(buf);
}

/* A committed hive must be clean as Windows judges it. */
static void check_clean(TALLOC_CTX *mem, const char *path)
{
	size_t len;
	uint8_t *buf = read_file(mem, path, BASE_SIZE, &len);

	if (len < BASE_SIZE)
		die("%s: shorter than a base block", path);
	if (get32(buf + RB_SEQ1) != get32(buf + RB_SEQ2))
		die("%s: sequence numbers differ after commit", path);
	if (get32(buf + RB_CHECKSUM) != regf_checksum(buf, path))
		die("%s: bad checksum after commit", path);
	talloc_free(buf);
}

/* ------------------------------------------------------------------ */
/* Values and keys through hivex.                                       */

/* The values of one key, set in this order by one hivex_node_set_values. */
struct valset {
	TALLOC_CTX *mem;
	hive_set_value *v;
	size_t n;
};

static void vs_add(struct valset *vs, const char *name, hive_type t,
		   const void *data, size_t len)
{
	hive_set_value *v;

	vs->v = check_alloc(talloc_realloc(vs->mem, vs->v, hive_set_value,
					   (unsigned)(vs->n + 1)));
	v = &vs->v[vs->n++];
	v->key = check_alloc(talloc_strdup(vs->mem, name));
	v->t = t;
	v->len = len;
	v->value = check_alloc(talloc_memdup(vs->mem, data, len ? len : 1));
}

/* UTF-16LE of an ASCII string, with or without a NUL terminator. */
static void vs_string(struct valset *vs, const char *name, hive_type t,
		      const char *s, bool nul)
{
	size_t n = strlen(s), len = 2 * (n + (nul ? 1 : 0));
	uint8_t *buf = check_alloc(talloc_zero_size(vs->mem, len ? len : 1));

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] >= 0x80)
			die("internal: non-ASCII string \"%s\"", s);
		buf[2 * i] = (uint8_t)s[i];
	}
	vs_add(vs, name, t, buf, len);
	talloc_free(buf);
}

/* REG_MULTI_SZ of a NULL-terminated list of ASCII strings. */
static void vs_multi(struct valset *vs, const char *name,
		     const char *const *list)
{
	size_t len = 2, off = 0;
	uint8_t *buf;

	for (size_t i = 0; list[i] != NULL; i++)
		len += 2 * (strlen(list[i]) + 1);
	buf = check_alloc(talloc_zero_size(vs->mem, len));
	for (size_t i = 0; list[i] != NULL; i++) {
		for (const char *c = list[i]; *c != '\0'; c++, off += 2)
			buf[off] = (uint8_t)*c;
		off += 2;
	}
	vs_add(vs, name, hive_t_REG_MULTI_SZ, buf, len);
	talloc_free(buf);
}

static void vs_dword(struct valset *vs, const char *name, uint32_t d)
{
	uint8_t buf[4];

	put32(buf, d);
	vs_add(vs, name, hive_t_REG_DWORD, buf, sizeof buf);
}

/* Build state for one hive. */
struct build {
	TALLOC_CTX *mem;
	hive_h *h;
	const char *path;        /* for messages */
};

static void set_values(struct build *b, hive_node_h node, struct valset *vs)
{
	if (hivex_node_set_values(b->h, node, vs->n, vs->v, 0) != 0)
		die("%s: hivex_node_set_values: %s", b->path, strerror(errno));
	talloc_free(vs->mem);
	vs->mem = NULL;
	vs->v = NULL;
	vs->n = 0;
}

static struct valset vs_new(struct build *b)
{
	struct valset vs = { check_alloc(talloc_new(b->mem)), NULL, 0 };
	return vs;
}

/* The key at path (components separated by '\'), created as needed. */
static hive_node_h key(struct build *b, hive_node_h parent, const char *path)
{
	char *copy = check_alloc(talloc_strdup(b->mem, path)), *save = NULL;
	hive_node_h node = parent;

	for (char *part = strtok_r(copy, "\\", &save); part != NULL;
	     part = strtok_r(NULL, "\\", &save)) {
		hive_node_h child;

		errno = 0;
		child = hivex_node_get_child(b->h, node, part);
		if (child == 0 && errno != 0)
			die("%s: hivex_node_get_child %s: %s", b->path, part,
			    strerror(errno));
		if (child == 0) {
			child = hivex_node_add_child(b->h, node, part);
			if (child == 0)
				die("%s: hivex_node_add_child %s: %s", b->path,
				    part, strerror(errno));
		}
		node = child;
	}
	talloc_free(copy);
	return node;
}

/* ------------------------------------------------------------------ */
/* The fixtures.                                                        */

enum cmdline_style {
	CL_STANDARD,
	CL_SXSSRV,          /* also ServerDll=sxssrv,4 (Windows 10) */
	CL_SPACES,          /* two spaces between tokens, " \t" before SharedSection */
	CL_LOWER,           /* "sharedsection=" */
	CL_TWO_TOKENS,      /* a second token SharedSection=<second> */
	CL_NO_TOKEN,        /* no SharedSection token at all */
};

struct cs_spec {
	const char *numbers;      /* NULL: SubSystems has no Windows value */
	enum cmdline_style style;
	const char *second;       /* CL_TWO_TOKENS: the second token's numbers */
	hive_type type;           /* 0 means REG_EXPAND_SZ */
	bool no_nul;              /* data without the UTF-16 terminator */
};

#define MAX_CS 3

struct hive_spec {
	const char *name;
	uint32_t minor;           /* base block minor version (0: BASE_MINOR) */
	bool no_select;
	uint32_t current, deflt, lkg, failed;
	size_t ncs;
	struct cs_spec cs[MAX_CS];
	enum base_edit edit;
};

#define NT4_SELECT .current = 1, .deflt = 1, .lkg = 1, .failed = 0
#define NT4_CS(...) .ncs = 1, .cs = { { .numbers = "1024,3072", __VA_ARGS__ } }

static const struct hive_spec fixtures[] = {
	{ .name = "nt4.hive", NT4_SELECT, NT4_CS(.style = CL_STANDARD) },
	{ .name = "xp.hive", NT4_SELECT, .ncs = 1,
	  .cs = { { .numbers = "1024,3072,512" } } },
	{ .name = "win7.hive", .minor = 5,
	  .current = 1, .deflt = 1, .lkg = 2, .failed = 0, .ncs = 2,
	  .cs = { { .numbers = "1024,12288,512" },
		  { .numbers = "1024,12288,512" } } },
	{ .name = "win10.hive", .minor = 5, NT4_SELECT, .ncs = 1,
	  .cs = { { .numbers = "1024,20480,768", .style = CL_SXSSRV } } },
	{ .name = "three.hive",
	  .current = 2, .deflt = 2, .lkg = 3, .failed = 1, .ncs = 3,
	  .cs = { { .numbers = "1024,3072" },
		  { .numbers = "1024,3072,512" },
		  { .numbers = "1024,12288,512" } } },
	{ .name = "regsz.hive", NT4_SELECT, NT4_CS(.type = hive_t_REG_SZ) },
	{ .name = "noterm.hive", NT4_SELECT, NT4_CS(.no_nul = true) },
	{ .name = "spaces.hive", NT4_SELECT, NT4_CS(.style = CL_SPACES) },
	{ .name = "lower.hive", NT4_SELECT, NT4_CS(.style = CL_LOWER) },
	{ .name = "twotokens.hive", NT4_SELECT,
	  NT4_CS(.style = CL_TWO_TOKENS, .second = "1024,3072,512") },
	{ .name = "notoken.hive", NT4_SELECT, NT4_CS(.style = CL_NO_TOKEN) },
	{ .name = "nonnumeric.hive", NT4_SELECT, .ncs = 1,
	  .cs = { { .numbers = "1024,0x300,512" } } },
	{ .name = "noselect.hive", .no_select = true, NT4_CS(.style = CL_STANDARD) },
	{ .name = "novalue.hive", NT4_SELECT, .ncs = 1,
	  .cs = { { .numbers = NULL } } },
	{ .name = "partial.hive",
	  .current = 1, .deflt = 1, .lkg = 2, .failed = 0, .ncs = 2,
	  .cs = { { .numbers = "1024,3072" }, { .numbers = NULL } } },
	{ .name = "dirty-seq.hive", .minor = 5, NT4_SELECT, .ncs = 1,
	  .cs = { { .numbers = "1024,20480,768", .style = CL_SXSSRV } },
	  .edit = EDIT_DIRTY_SEQ },
	{ .name = "dirty-sum.hive", .minor = 5, NT4_SELECT, .ncs = 1,
	  .cs = { { .numbers = "1024,20480,768", .style = CL_SXSSRV } },
	  .edit = EDIT_DIRTY_SUM },
};

/* The bundled demo: an NT 4.0-style SYSTEM hive, two control sets. */
static const struct hive_spec sample = {
	.name = "sample", .current = 1, .deflt = 1, .lkg = 2, .failed = 0,
	.ncs = 2, .cs = { { .numbers = "1024,3072" }, { .numbers = "1024,3072" } },
};

/* The csrss command line of a control set. */
static char *cmdline(TALLOC_CTX *mem, const struct cs_spec *cs)
{
	const char *tok[16];
	size_t n = 0, shared = SIZE_MAX;
	char *line;

	tok[n++] = "%SystemRoot%\\system32\\csrss.exe";
	tok[n++] = "ObjectDirectory=\\Windows";
	if (cs->style != CL_NO_TOKEN) {
		shared = n;
		tok[n++] = check_alloc(talloc_asprintf(mem, "%s=%s",
			cs->style == CL_LOWER ? "sharedsection" : "SharedSection",
			cs->numbers));
	}
	tok[n++] = "Windows=On";
	tok[n++] = "SubSystemType=Windows";
	if (cs->style == CL_TWO_TOKENS)
		tok[n++] = check_alloc(talloc_asprintf(mem, "SharedSection=%s",
						       cs->second));
	tok[n++] = "ServerDll=basesrv,1";
	tok[n++] = "ServerDll=winsrv:UserServerDllInitialization,3";
	tok[n++] = "ServerDll=winsrv:ConServerDllInitialization,2";
	if (cs->style == CL_SXSSRV)
		tok[n++] = "ServerDll=sxssrv,4";
	tok[n++] = "ProfileControl=Off";
	tok[n++] = "MaxRequestThreads=16";

	line = check_alloc(talloc_strdup(mem, tok[0]));
	for (size_t i = 1; i < n; i++) {
		const char *sep = " ";
		if (cs->style == CL_SPACES)
			sep = i == shared ? " \t" : "  ";
		line = check_alloc(talloc_asprintf_append(line, "%s%s", sep, tok[i]));
	}
	return line;
}

static hive_type windows_type(const struct cs_spec *cs)
{
	return cs->type != 0 ? cs->type : hive_t_REG_EXPAND_SZ;
}

static void build_control_set(struct build *b, hive_node_h root, unsigned num,
			      const struct cs_spec *cs)
{
	static const char *const required[] = { "Debug", "Windows", NULL };
	static const char *const boot_execute[] = { "autocheck autochk *", NULL };
	char *name = check_alloc(talloc_asprintf(b->mem, "ControlSet%03u", num));
	hive_node_h set = key(b, root, name), node;
	struct valset vs;

	node = key(b, set, "Control");
	vs = vs_new(b);
	vs_string(&vs, "CurrentUser", hive_t_REG_SZ, "USERNAME", true);
	vs_string(&vs, "WaitToKillServiceTimeout", hive_t_REG_SZ, "20000", true);
	set_values(b, node, &vs);

	node = key(b, set, "Control\\ComputerName\\ComputerName");
	vs = vs_new(b);
	vs_string(&vs, "ComputerName", hive_t_REG_SZ, "DESKHEAP-TEST", true);
	set_values(b, node, &vs);

	node = key(b, set, "Control\\Session Manager");
	vs = vs_new(b);
	vs_multi(&vs, "BootExecute", boot_execute);
	vs_dword(&vs, "ProtectionMode", 1);
	set_values(b, node, &vs);

	node = key(b, set, "Control\\Session Manager\\SubSystems");
	vs = vs_new(b);
	vs_string(&vs, "Debug", hive_t_REG_EXPAND_SZ, "", true);
	vs_string(&vs, "Kmode", hive_t_REG_EXPAND_SZ,
		  "\\SystemRoot\\System32\\win32k.sys", true);
	vs_multi(&vs, "Required", required);
	if (cs->numbers != NULL)
		vs_string(&vs, "Windows", windows_type(cs),
			  cmdline(vs.mem, cs), !cs->no_nul);
	set_values(b, node, &vs);

	node = key(b, set, "Services\\Tcpip\\Parameters");
	vs = vs_new(b);
	vs_string(&vs, "Hostname", hive_t_REG_SZ, "deskheap-test", true);
	vs_dword(&vs, "EnableICMPRedirect", 1);
	set_values(b, node, &vs);

	talloc_free(name);
}

/* Open the empty hive at base, build spec into it, commit it to out. */
static void build_hive(TALLOC_CTX *mem, const char *base, const char *out,
		       const struct hive_spec *spec)
{
	struct build b = { check_alloc(talloc_new(mem)), NULL, out };
	hive_node_h root, node;
	struct valset vs;

	b.h = hivex_open(base, HIVEX_OPEN_WRITE);
	if (b.h == NULL)
		die("%s: hivex_open: %s", base, strerror(errno));
	root = hivex_root(b.h);
	if (root == 0)
		die("%s: hivex_root: %s", base, strerror(errno));

	if (!spec->no_select) {
		node = key(&b, root, "Select");
		vs = vs_new(&b);
		vs_dword(&vs, "Current", spec->current);
		vs_dword(&vs, "Default", spec->deflt);
		vs_dword(&vs, "LastKnownGood", spec->lkg);
		vs_dword(&vs, "Failed", spec->failed);
		set_values(&b, node, &vs);
	}
	for (size_t i = 0; i < spec->ncs; i++)
		build_control_set(&b, root, (unsigned)(i + 1), &spec->cs[i]);

	node = key(&b, root, "Setup");
	vs = vs_new(&b);
	vs_dword(&vs, "SetupType", 0);
	vs_dword(&vs, "SystemSetupInProgress", 0);
	vs_string(&vs, "CmdLine", hive_t_REG_SZ, "setup -newsetup", true);
	set_values(&b, node, &vs);

	if (hivex_commit(b.h, out, 0) != 0)
		die("%s: hivex_commit: %s", out, strerror(errno));
	if (hivex_close(b.h) != 0)
		die("%s: hivex_close: %s", out, strerror(errno));

	edit_base_block(b.mem, out, spec->minor ? spec->minor : BASE_MINOR,
			spec->edit);
	if (spec->edit == EDIT_NONE)
		check_clean(b.mem, out);
	talloc_free(b.mem);
}

/* Read the fixture back with hivex: every Windows value as intended. */
static void verify_hive(TALLOC_CTX *mem, const char *path,
			const struct hive_spec *spec)
{
	hive_h *h = hivex_open(path, 0);
	hive_node_h root;

	if (h == NULL)
		die("%s: reopening with hivex: %s", path, strerror(errno));
	root = hivex_root(h);
	for (size_t i = 0; i < spec->ncs; i++) {
		const struct cs_spec *cs = &spec->cs[i];
		char *kpath = check_alloc(talloc_asprintf(mem,
			"ControlSet%03zu\\Control\\Session Manager\\SubSystems",
			i + 1));
		char *save = NULL, *want;
		hive_node_h node = root;
		hive_value_h val;
		hive_type t;
		size_t len, wlen;
		char *data;

		for (char *part = strtok_r(kpath, "\\", &save);
		     part != NULL && node != 0; part = strtok_r(NULL, "\\", &save))
			node = hivex_node_get_child(h, node, part);
		if (node == 0)
			die("%s: SubSystems key of set %zu missing", path, i + 1);
		errno = 0;
		val = hivex_node_get_value(h, node, "Windows");
		if (cs->numbers == NULL) {
			if (val != 0)
				die("%s: set %zu has a Windows value", path, i + 1);
			talloc_free(kpath);
			continue;
		}
		if (val == 0)
			die("%s: set %zu lacks its Windows value", path, i + 1);
		data = hivex_value_value(h, val, &t, &len);
		if (data == NULL)
			die("%s: hivex_value_value: %s", path, strerror(errno));
		want = cmdline(kpath, cs);
		wlen = 2 * (strlen(want) + (cs->no_nul ? 0 : 1));
		if (t != windows_type(cs) || len != wlen)
			die("%s: set %zu: Windows value reads back as type %d, "
			    "%zu bytes", path, i + 1, (int)t, len);
		for (size_t k = 0; k < len; k++)
			if ((uint8_t)data[k] !=
			    (k % 2 == 0 && k / 2 < strlen(want)
				     ? (uint8_t)want[k / 2] : 0))
				die("%s: set %zu: Windows value differs at byte "
				    "%zu", path, i + 1, k);
		free(data);
		talloc_free(kpath);
	}
	hivex_close(h);
}

/* 8192 bytes of deterministic noise that is not a hive. */
static void write_garbage(const char *path)
{
	uint8_t buf[8192];
	uint32_t x = 0x2545F491u;

	for (size_t i = 0; i < sizeof buf; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)(x >> 24);
	}
	if (memcmp(buf, "regf", 4) == 0)
		buf[0] = 'x';
	write_file(path, buf, sizeof buf);
}

static void write_all(TALLOC_CTX *mem, const char *dir)
{
	uint8_t empty[BASE_SIZE + BIN_SIZE];
	char *empty_path = check_alloc(talloc_asprintf(mem, "%s/empty.hive", dir));
	char *path;
	uint8_t *buf;
	size_t len;

	build_empty_hive(empty);
	write_file(empty_path, empty, sizeof empty);

	for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
		path = check_alloc(talloc_asprintf(mem, "%s/%s", dir,
						   fixtures[i].name));
		build_hive(mem, empty_path, path, &fixtures[i]);
		if (fixtures[i].edit != EDIT_DIRTY_SUM)   /* hivex refuses it */
			verify_hive(mem, path, &fixtures[i]);
		talloc_free(path);
	}

	path = check_alloc(talloc_asprintf(mem, "%s/garbage.hive", dir));
	write_garbage(path);
	talloc_free(path);

	path = check_alloc(talloc_asprintf(mem, "%s/win7.hive", dir));
	buf = read_file(mem, path, 6000, &len);
	if (len != 6000)
		die("%s: shorter than 6000 bytes", path);
	talloc_free(path);
	path = check_alloc(talloc_asprintf(mem, "%s/truncated.hive", dir));
	write_file(path, buf, len);
	talloc_free(path);
	talloc_free(buf);
	talloc_free(empty_path);
}

/* The sample is built on an empty hive written at its own path first:
 * hivex reads the whole file on open, so commit may replace it. */
static void write_sample(TALLOC_CTX *mem, const char *file)
{
	uint8_t empty[BASE_SIZE + BIN_SIZE];

	build_empty_hive(empty);
	write_file(file, empty, sizeof empty);
	build_hive(mem, file, file, &sample);
	verify_hive(mem, file, &sample);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: %s DIR            write every test fixture into DIR\n"
		"       %s --sample FILE  write the demo SYSTEM hive as FILE\n",
		progname, progname);
	exit(1);
}

int main(int argc, char **argv)
{
	TALLOC_CTX *mem;
	struct stat st;

	if (argc > 0 && argv[0] != NULL && argv[0][0] != '\0') {
		const char *slash = strrchr(argv[0], '/');
		progname = slash ? slash + 1 : argv[0];
	}
	if (argc == 3 && strcmp(argv[1], "--sample") == 0) {
		mem = check_alloc(talloc_new(NULL));
		write_sample(mem, argv[2]);
		talloc_free(mem);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		usage();
	if (stat(argv[1], &st) != 0)
		die("%s: %s", argv[1], strerror(errno));
	if (!S_ISDIR(st.st_mode))
		die("%s: not a directory", argv[1]);
	mem = check_alloc(talloc_new(NULL));
	write_all(mem, argv[1]);
	talloc_free(mem);
	return 0;
}
