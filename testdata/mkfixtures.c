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
 * Stand-alone on purpose: it links hivex, talloc and src/marvin32.c only
 * (for the transaction-log fixtures' hashes), never the deskheap library,
 * so a bug in the library cannot hide in its own fixtures. DIR/replay/
 * README.txt lists the transaction-log fixtures and their outcomes.
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

#include "format.h"
#include "marvin32.h"

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

/* nk record fields, relative to the record (after the 4-byte cell size). */
#define NK_FLAGS 0x02
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

	for (size_t i = 0; i < DH_REGF_CHECKSUM_OFFSET / 4; i++)
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

/* The empty hive's one bin: the smallest a bin can be. */
#define EMPTY_BIN DH_HBIN_ALIGN

/* The size of a cell for a record of len bytes: a multiple of 8. */
static uint32_t cell_size(size_t len)
{
	return (uint32_t)((DH_CELL_RECORD + len + 7) & ~(size_t)7);
}

/* A cell for a record of len bytes at bin + off, marked used (negative
 * size): its size. */
static uint32_t put_used_cell(uint8_t *bin, uint32_t off, size_t len)
{
	uint32_t size = cell_size(len);

	put32(bin + off + DH_CELL_SIZE, (uint32_t)-(int32_t)size);
	return size;
}

/* The root key (nk) in a cell at bin + off, its security at sk_off. */
static void put_root_key(uint8_t *bin, uint32_t off, uint32_t sk_off)
{
	size_t name_len = strlen(ROOT_NAME);
	uint8_t *nk = bin + off + DH_CELL_RECORD;

	memcpy(nk + DH_NK_SIGNATURE, "nk", 2);
	put16(nk + NK_FLAGS, KEY_HIVE_ENTRY | KEY_NO_DELETE | KEY_COMP_NAME);
	put64(nk + DH_NK_TIMESTAMP, FIXTURE_FILETIME);
	put32(nk + NK_PARENT, 0);        /* meaningless for the root */
	put32(nk + NK_SUBKEYS, 0xFFFFFFFFu);
	put32(nk + NK_VSUBKEYS, 0xFFFFFFFFu);
	put32(nk + NK_VALUES, 0xFFFFFFFFu);
	put32(nk + NK_SK, sk_off);
	put32(nk + NK_CLASS, 0xFFFFFFFFu);
	put16(nk + NK_NAMELEN, (uint16_t)name_len);
	memcpy(nk + NK_NAME, ROOT_NAME, name_len);
	put_used_cell(bin, off, NK_NAME + name_len);
}

/* The root key's security (sk) in a cell at bin + off, the only one, so
 * linked to itself: the cell's size. */
static uint32_t put_root_security(uint8_t *bin, uint32_t off)
{
	uint8_t *sk = bin + off + DH_CELL_RECORD;
	size_t sd_len;

	memcpy(sk, "sk", 2);
	put32(sk + SK_FLINK, off);
	put32(sk + SK_BLINK, off);
	put32(sk + SK_REFCOUNT, 1);
	sd_len = put_security_descriptor(sk + SK_SD);
	put32(sk + SK_SDLEN, (uint32_t)sd_len);
	return put_used_cell(bin, off, SK_SD + sd_len);
}

/* A primary's base block for bins of bins_size bytes, root key at root. */
static void put_base_block(uint8_t *base, uint32_t root, uint32_t bins_size)
{
	const char *fname = "SYSTEM";

	memcpy(base + DH_REGF_SIGNATURE, "regf", 4);
	put32(base + DH_REGF_SEQ1, 1);
	put32(base + DH_REGF_SEQ2, 1);
	put64(base + DH_REGF_WRITTEN, FIXTURE_FILETIME);
	put32(base + DH_REGF_MAJOR, 1);
	put32(base + DH_REGF_MINOR, BASE_MINOR);
	put32(base + DH_REGF_TYPE, DH_REGF_TYPE_PRIMARY);
	put32(base + DH_REGF_FORMAT, 1);      /* direct memory load */
	put32(base + DH_REGF_ROOT, root);
	put32(base + DH_REGF_BINS_SIZE, bins_size);
	put32(base + DH_REGF_CLUSTERING, 1);
	for (size_t i = 0; fname[i] != '\0'; i++)
		put16(base + DH_REGF_FILE_NAME + 2 * i, (uint16_t)fname[i]);
	put32(base + DH_REGF_CHECKSUM_OFFSET, regf_checksum(base, "empty hive"));
}

/* The minimal empty hive: a base block and one hbin holding the root nk
 * cell, its sk cell and the rest of the bin as one free cell. buf must hold
 * DH_REGF_BASE_BLOCK_SIZE + EMPTY_BIN bytes. */
static void build_empty_hive(uint8_t *buf)
{
	uint8_t *bin = buf + DH_REGF_BINS_START;
	uint32_t nk_off = DH_HBIN_HEADER;   /* offsets from DH_REGF_BINS_START */
	uint32_t sk_off = nk_off + cell_size(NK_NAME + strlen(ROOT_NAME));
	uint32_t free_off;

	memset(buf, 0, DH_REGF_BASE_BLOCK_SIZE + EMPTY_BIN);
	memcpy(bin + DH_HBIN_SIGNATURE, "hbin", 4);
	put32(bin + DH_HBIN_OFFSET, 0);
	put32(bin + DH_HBIN_SIZE, EMPTY_BIN);
	put64(bin + DH_HBIN_TIME, FIXTURE_FILETIME);
	put_root_key(bin, nk_off, sk_off);
	free_off = sk_off + put_root_security(bin, sk_off);
	/* the rest: one free cell (positive size) */
	put32(bin + free_off + DH_CELL_SIZE, EMPTY_BIN - free_off);
	put_base_block(buf, nk_off, EMPTY_BIN);
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

	if (len < DH_REGF_BASE_BLOCK_SIZE || memcmp(buf, "regf", 4) != 0)
		die("%s: not a hive after commit", path);
	put32(buf + DH_REGF_MINOR, minor);
	if (edit == EDIT_DIRTY_SEQ)
		put32(buf + DH_REGF_SEQ2, get32(buf + DH_REGF_SEQ1) - 1);
	sum = regf_checksum(buf, path);
	if (edit == EDIT_DIRTY_SUM)
		sum ^= 0x5A5A5A5Au;
	put32(buf + DH_REGF_CHECKSUM_OFFSET, sum);
	write_file(path, buf, len);
	talloc_free(buf);
}

/* A committed hive must be clean as Windows judges it. */
static void check_clean(TALLOC_CTX *mem, const char *path)
{
	size_t len;
	uint8_t *buf = read_file(mem, path, DH_REGF_BASE_BLOCK_SIZE, &len);

	if (len < DH_REGF_BASE_BLOCK_SIZE)
		die("%s: shorter than a base block", path);
	if (get32(buf + DH_REGF_SEQ1) != get32(buf + DH_REGF_SEQ2))
		die("%s: sequence numbers differ after commit", path);
	if (get32(buf + DH_REGF_CHECKSUM_OFFSET) != regf_checksum(buf, path))
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

/* A build of out on the hive at from, opened with hivex for writing. */
static struct build build_open(TALLOC_CTX *mem, const char *from,
			       const char *out)
{
	struct build b = { check_alloc(talloc_new(mem)), NULL, out };

	b.h = hivex_open(from, HIVEX_OPEN_WRITE);
	if (b.h == NULL)
		die("%s: hivex_open: %s", from, strerror(errno));
	return b;
}

/* Commit the build to its file and close the hive. */
static void build_commit(struct build *b)
{
	if (hivex_commit(b->h, b->path, 0) != 0)
		die("%s: hivex_commit: %s", b->path, strerror(errno));
	if (hivex_close(b->h) != 0)
		die("%s: hivex_close: %s", b->path, strerror(errno));
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
	size_t pad_to;            /* the value padded to this many bytes,
				   * terminator included (0: not padded) */
};

#define MAX_CS 3

struct hive_spec {
	const char *name;
	uint32_t minor;           /* base block minor version (0: BASE_MINOR) */
	bool no_select;
	bool from_zero;           /* control sets numbered from 000, not 001 */
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
	/* a stray ControlSet000 beside the real one; Select\Failed = 0
	 * means "none", not ControlSet000 */
	{ .name = "stray000.hive", NT4_SELECT, .from_zero = true, .ncs = 2,
	  .cs = { { .numbers = "1024,3072" }, { .numbers = "1024,3072" } } },
	/* values of exactly 16,344 bytes, the most a 1.4+ hive holds in a
	 * plain cell: appending ",512" makes it a big-data value there (1.5),
	 * not in a 1.3 hive */
	{ .name = "long15.hive", .minor = 5, NT4_SELECT,
	  NT4_CS(.pad_to = 16344) },
	{ .name = "long13.hive", NT4_SELECT, NT4_CS(.pad_to = 16344) },
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
	if (cs->pad_to != 0) {
		size_t want = cs->pad_to / 2 - 1;   /* code units before the NUL */
		size_t have;

		line = check_alloc(talloc_asprintf_append(line, " Padding="));
		have = strlen(line);
		if (have > want)
			die("pad_to %zu is too short for the command line", cs->pad_to);
		line = check_alloc(talloc_realloc(mem, line, char, want + 1));
		memset(line + have, 'x', want - have);
		line[want] = '\0';
	}
	return line;
}

/* The number of the i-th control set of spec. */
static unsigned cs_number(const struct hive_spec *spec, size_t i)
{
	return (unsigned)i + (spec->from_zero ? 0 : 1);
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
	struct build b = build_open(mem, base, out);
	hive_node_h root, node;
	struct valset vs;
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
		build_control_set(&b, root, cs_number(spec, i), &spec->cs[i]);

	node = key(&b, root, "Setup");
	vs = vs_new(&b);
	vs_dword(&vs, "SetupType", 0);
	vs_dword(&vs, "SystemSetupInProgress", 0);
	vs_string(&vs, "CmdLine", hive_t_REG_SZ, "setup -newsetup", true);
	set_values(&b, node, &vs);

	build_commit(&b);

	edit_base_block(b.mem, out, spec->minor ? spec->minor : BASE_MINOR,
			spec->edit);
	if (spec->edit == EDIT_NONE)
		check_clean(b.mem, out);
	talloc_free(b.mem);
}

/* SOFTWARE hives: the Windows version, which tells which transaction log
 * format that Windows writes (src/logformat.h). */
struct software_spec {
	const char *name;
	const char *value;        /* NULL: CurrentVersion has no build value */
	const char *build;
};

static const struct software_spec softwares[] = {
	{ "software-7601.hive", "CurrentBuild", "7601" },     /* Windows 7 SP1 */
	{ "software-9600.hive", "CurrentBuild", "9600" },     /* Windows 8.1 */
	{ "software-19045.hive", "CurrentBuild", "19045" },   /* Windows 10 */
	{ "software-6002.hive", "CurrentBuildNumber", "6002" }, /* Vista SP2,
				   * the older value name only */
	{ "software-nobuild.hive", NULL, NULL },
	{ "software-text.hive", "CurrentBuild", "9600a" },
};

/* Open the empty hive at base, build SOFTWARE spec into it, commit to out. */
static void build_software(TALLOC_CTX *mem, const char *base, const char *out,
			   const struct software_spec *spec)
{
	struct build b = build_open(mem, base, out);
	hive_node_h node;
	struct valset vs;
	node = key(&b, hivex_root(b.h), "Microsoft\\Windows NT\\CurrentVersion");
	vs = vs_new(&b);
	vs_string(&vs, "ProductName", hive_t_REG_SZ, "Windows", true);
	if (spec->value != NULL)
		vs_string(&vs, spec->value, hive_t_REG_SZ, spec->build, true);
	set_values(&b, node, &vs);
	build_commit(&b);
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
			"ControlSet%03u\\Control\\Session Manager\\SubSystems",
			cs_number(spec, i)));
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

/* ------------------------------------------------------------------ */
/* Dirty hives and their transaction logs (DIR/replay, DIR/new-*, ...). */

/*
 * Four states of one SYSTEM hive, each committed by hivex to its own file
 * in DIR/replay:
 *   A   like win10.hive (one control set, SharedSection=1024,20480,768)
 *   A1  A with several values changed, SharedSection=1024,20480,512
 *   A2  A1 plus 40 keys with 2 KB of binary data each: hivex appends hbins,
 *       so the hive grows
 *   B   A2 with more values changed, a key deleted, SharedSection ...,640
 * A's sequence numbers are set to 99 before the edits, and hivex's commit
 * adds one to both, so A1, A2 and B carry 100, 101 and 102: the numbers of
 * the new-format log entries leading to them. A new-format replay that
 * stops after entry N therefore gives the state file of entry N byte for
 * byte, base block included (hivex's commit changes nothing else in it).
 *
 * The dirty primary of every fixture is A with sequence numbers 101/100
 * (checksum valid), A's length. The logs are written here, not by hivex:
 * they hold the pages where consecutive states differ.
 */

#define HVLE_PAGE 4096u           /* page granularity of HvLE references */

/* The dirty primary's sequence numbers; the first log entry carries the
 * secondary one. */
#define DIRTY_SEQ1 101u
#define DIRTY_SEQ2 100u

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

/* Set a base block's sequence numbers and recompute its checksum. */
static void base_set_sequence(uint8_t *base, uint32_t seq1, uint32_t seq2,
			      const char *what)
{
	put32(base + DH_REGF_SEQ1, seq1);
	put32(base + DH_REGF_SEQ2, seq2);
	put32(base + DH_REGF_CHECKSUM_OFFSET, regf_checksum(base, what));
}

/* The key at path below parent, which must exist. */
static hive_node_h existing_key(struct build *b, hive_node_h parent,
				const char *path)
{
	char *copy = check_alloc(talloc_strdup(b->mem, path)), *save = NULL;
	hive_node_h node = parent;

	for (char *part = strtok_r(copy, "\\", &save); part != NULL;
	     part = strtok_r(NULL, "\\", &save)) {
		errno = 0;
		node = hivex_node_get_child(b->h, node, part);
		if (node == 0)
			die("%s: key %s missing (at %s): %s", b->path, path, part,
			    errno ? strerror(errno) : "no such key");
	}
	talloc_free(copy);
	return node;
}

/* Set each value of vs on node, keeping the node's other values. */
static void update_values(struct build *b, hive_node_h node, struct valset *vs)
{
	for (size_t i = 0; i < vs->n; i++)
		if (hivex_node_set_value(b->h, node, &vs->v[i], 0) != 0)
			die("%s: hivex_node_set_value %s: %s", b->path,
			    vs->v[i].key, strerror(errno));
	talloc_free(vs->mem);
	vs->mem = NULL;
	vs->v = NULL;
	vs->n = 0;
}

#define REPLAY_SUBSYSTEMS "ControlSet001\\Control\\Session Manager\\SubSystems"
#define REPLAY_FILL "ControlSet001\\Services\\DeskheapFill"
#define REPLAY_FILL_KEYS 40u
#define REPLAY_FILL_BYTES 2048u
#define REPLAY_DELETED "Key13"    /* the filler key B deletes */

static void set_windows_value(struct build *b, hive_node_h root,
			      const struct cs_spec *cs)
{
	hive_node_h node = existing_key(b, root, REPLAY_SUBSYSTEMS);
	struct valset vs = vs_new(b);

	vs_string(&vs, "Windows", windows_type(cs), cmdline(vs.mem, cs),
		  !cs->no_nul);
	update_values(b, node, &vs);
}

struct replay_state;
typedef void replay_edit_fn(struct build *b, hive_node_h root,
			    const struct replay_state *st);

struct replay_state {
	struct hive_spec spec;    /* spec.name: the file in DIR/replay */
	replay_edit_fn *edit;     /* NULL: built from the empty hive */
};

static void edit_a1(struct build *b, hive_node_h root,
		    const struct replay_state *st)
{
	struct valset vs;
	hive_node_h node;

	set_windows_value(b, root, &st->spec.cs[0]);

	node = existing_key(b, root, "ControlSet001\\Control");
	vs = vs_new(b);
	vs_string(&vs, "WaitToKillServiceTimeout", hive_t_REG_SZ, "5000", true);
	update_values(b, node, &vs);

	node = existing_key(b, root,
			    "ControlSet001\\Control\\ComputerName\\ComputerName");
	vs = vs_new(b);
	vs_string(&vs, "ComputerName", hive_t_REG_SZ, "DESKHEAP-A1", true);
	update_values(b, node, &vs);

	node = existing_key(b, root, "ControlSet001\\Services\\Tcpip\\Parameters");
	vs = vs_new(b);
	vs_dword(&vs, "EnableICMPRedirect", 0);
	update_values(b, node, &vs);
}

/* 2 KB of deterministic noise per filler key. */
static void fill_bytes(uint8_t *buf, size_t len, uint32_t seed)
{
	uint32_t x = 0x9E3779B9u ^ (seed * 0x85EBCA6Bu);

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)(x >> 24);
	}
}

static void edit_a2(struct build *b, hive_node_h root,
		    const struct replay_state *st)
{
	uint8_t blob[REPLAY_FILL_BYTES];

	(void)st;
	for (uint32_t i = 0; i < REPLAY_FILL_KEYS; i++) {
		char *name = check_alloc(talloc_asprintf(b->mem,
			REPLAY_FILL "\\Key%02u", (unsigned)i));
		hive_node_h node = key(b, root, name);
		struct valset vs = vs_new(b);

		fill_bytes(blob, sizeof blob, i);
		vs_add(&vs, "Blob", hive_t_REG_BINARY, blob, sizeof blob);
		vs_dword(&vs, "Index", i);
		set_values(b, node, &vs);
		talloc_free(name);
	}
}

static void edit_b(struct build *b, hive_node_h root,
		   const struct replay_state *st)
{
	struct valset vs;
	hive_node_h node;

	set_windows_value(b, root, &st->spec.cs[0]);

	node = existing_key(b, root, "ControlSet001\\Services\\Tcpip\\Parameters");
	vs = vs_new(b);
	vs_string(&vs, "Hostname", hive_t_REG_SZ, "deskheap-b", true);
	update_values(b, node, &vs);

	node = existing_key(b, root, "Setup");
	vs = vs_new(b);
	vs_string(&vs, "CmdLine", hive_t_REG_SZ, "oobe\\windeploy.exe", true);
	update_values(b, node, &vs);

	node = existing_key(b, root, REPLAY_FILL "\\Key21");
	vs = vs_new(b);
	vs_dword(&vs, "Index", 2100);
	update_values(b, node, &vs);

	node = existing_key(b, root, REPLAY_FILL "\\" REPLAY_DELETED);
	if (hivex_node_delete_child(b->h, node) != 0)
		die("%s: hivex_node_delete_child: %s", b->path, strerror(errno));
}

#define REPLAY_CS(n) NT4_SELECT, .minor = 5, .ncs = 1, \
	.cs = { { .numbers = n, .style = CL_SXSSRV } }

static const struct replay_state replay_states[] = {
	{ { .name = "A.hive", REPLAY_CS("1024,20480,768") }, NULL },
	{ { .name = "A1.hive", REPLAY_CS("1024,20480,512") }, edit_a1 },
	{ { .name = "A2.hive", REPLAY_CS("1024,20480,512") }, edit_a2 },
	{ { .name = "B.hive", REPLAY_CS("1024,20480,640") }, edit_b },
};
#define N_STATES (sizeof replay_states / sizeof replay_states[0])

/* Open from with hivex, apply st's edit, commit to out. */
static void edit_state(TALLOC_CTX *mem, const char *from, const char *out,
		       const struct replay_state *st)
{
	struct build b = build_open(mem, from, out);
	hive_node_h root;
	root = hivex_root(b.h);
	if (root == 0)
		die("%s: hivex_root: %s", from, strerror(errno));
	st->edit(&b, root, st);
	build_commit(&b);
	check_clean(b.mem, out);
	talloc_free(b.mem);
}

/* A committed state, in memory. */
struct state {
	const char *name;
	uint8_t *buf;
	size_t len;
	uint32_t bins;            /* hive bins data size */
};

static void load_state(TALLOC_CTX *mem, const char *path, const char *name,
		       struct state *s)
{
	s->name = name;
	s->buf = read_file(mem, path, 0, &s->len);
	if (s->len < DH_REGF_BASE_BLOCK_SIZE + DH_HBIN_ALIGN)
		die("%s: too short for a hive", path);
	s->bins = get32(s->buf + DH_REGF_BINS_SIZE);
	if (s->bins % DH_HBIN_ALIGN != 0 ||
	    s->len != DH_REGF_BINS_START + (size_t)s->bins)
		die("%s: %zu bytes, bins size %u: hivex no longer writes the "
		    "file this generator expects", path, s->len, (unsigned)s->bins);
}

/* Does the page [off, off + size) of the bins differ from a to b? Pages
 * beyond a's end always do. */
static bool page_dirty(const struct state *a, const struct state *b,
		       size_t off, size_t size)
{
	if (off + size > a->bins)
		return true;
	return memcmp(a->buf + DH_REGF_BASE_BLOCK_SIZE + off, b->buf + DH_REGF_BASE_BLOCK_SIZE + off,
		      size) != 0;
}

/* One new-format log entry. */
struct hvle {
	uint8_t *buf;
	size_t len;
	uint32_t refs;            /* page references (runs of dirty pages) */
	uint32_t pages;           /* dirty 4096-byte pages */
};

/* Store both hashes: hash 1 over bytes 40.., then hash 2 over 0..31. */
static void hvle_seal(struct hvle *e)
{
	put64(e->buf + DH_HVLE_HASH1, dh_marvin32(e->buf + DH_HVLE_HEADER,
		e->len - DH_HVLE_HEADER, DH_MARVIN32_LOG_SEED));
	put64(e->buf + DH_HVLE_HASH2, dh_marvin32(e->buf, DH_HVLE_HASH2,
		DH_MARVIN32_LOG_SEED));
}

/* The entry that takes a to b: one reference per run of adjacent dirty
 * pages, then the pages packed, padded with zeros to 512 bytes. */
static struct hvle hvle_make(TALLOC_CTX *mem, const struct state *a,
			     const struct state *b, uint32_t seq)
{
	struct hvle e = { NULL, 0, 0, 0 };
	size_t npages = b->bins / HVLE_PAGE, ref, data;

	if (b->bins < a->bins)
		die("%s is smaller than %s: hivex shrank a hive", b->name,
		    a->name);
	for (size_t i = 0; i < npages; i++) {
		if (!page_dirty(a, b, i * HVLE_PAGE, HVLE_PAGE))
			continue;
		e.pages++;
		if (i == 0 || !page_dirty(a, b, (i - 1) * HVLE_PAGE, HVLE_PAGE))
			e.refs++;
	}
	if (e.pages == 0)
		die("%s and %s have the same hive bins", a->name, b->name);
	e.len = round_up(DH_HVLE_HEADER + DH_HVLE_REF_LEN * (size_t)e.refs +
			 HVLE_PAGE * (size_t)e.pages, DH_LOG_SECTOR);
	e.buf = check_alloc(talloc_zero_size(mem, e.len));
	memcpy(e.buf, "HvLE", 4);
	put32(e.buf + DH_HVLE_SIZE, (uint32_t)e.len);
	put32(e.buf + DH_HVLE_FLAGS, 0);
	put32(e.buf + DH_HVLE_SEQ, seq);
	put32(e.buf + DH_HVLE_BINS_SIZE, b->bins);
	put32(e.buf + DH_HVLE_PAGE_COUNT, e.refs);
	ref = DH_HVLE_HEADER;
	data = DH_HVLE_HEADER + DH_HVLE_REF_LEN * (size_t)e.refs;
	for (size_t i = 0; i < npages; ) {
		size_t run = 0;

		while (i + run < npages &&
		       page_dirty(a, b, (i + run) * HVLE_PAGE, HVLE_PAGE))
			run++;
		if (run == 0) {
			i++;
			continue;
		}
		put32(e.buf + ref + DH_HVLE_REF_OFFSET, (uint32_t)(i * HVLE_PAGE));
		put32(e.buf + ref + DH_HVLE_REF_SIZE, (uint32_t)(run * HVLE_PAGE));
		ref += DH_HVLE_REF_LEN;
		memcpy(e.buf + data, b->buf + DH_REGF_BASE_BLOCK_SIZE + i * HVLE_PAGE,
		       run * HVLE_PAGE);
		data += run * HVLE_PAGE;
		i += run;
	}
	hvle_seal(&e);
	return e;
}

/* A copy of e to alter; seal it again after the change (or don't). */
static struct hvle hvle_copy(TALLOC_CTX *mem, const struct hvle *e)
{
	struct hvle c = *e;

	c.buf = check_alloc(talloc_memdup(mem, e->buf, e->len));
	return c;
}

static struct hvle hvle_renumbered(TALLOC_CTX *mem, const struct hvle *e,
				   uint32_t seq)
{
	struct hvle c = hvle_copy(mem, e);

	put32(c.buf + DH_HVLE_SEQ, seq);
	hvle_seal(&c);
	return c;
}

/* A new-format log: the dirty primary's first 512 bytes as file type 6,
 * both sequence numbers the first entry's, then the entries. */
static uint8_t *hvle_log(TALLOC_CTX *mem, const uint8_t *primary,
			 const struct hvle *e, size_t n, size_t *len_out)
{
	size_t len = DH_LOG_RECORDS, off = DH_LOG_RECORDS;
	uint8_t *log;

	for (size_t i = 0; i < n; i++)
		len += e[i].len;
	log = check_alloc(talloc_zero_size(mem, len));
	memcpy(log, primary, DH_REGF_HEADER_SIZE);
	put32(log + DH_REGF_TYPE, DH_REGF_TYPE_LOG_NEW);
	base_set_sequence(log, get32(e[0].buf + DH_HVLE_SEQ),
			  get32(e[0].buf + DH_HVLE_SEQ), "new-format log");
	for (size_t i = 0; i < n; i++) {
		memcpy(log + off, e[i].buf, e[i].len);
		off += e[i].len;
	}
	*len_out = len;
	return log;
}

/* The old-format log that takes a to b: a's base block as file type 1,
 * both sequence numbers the dirty primary's first one, b's bins size, the
 * primary's time; "DIRT" and one bit per 512-byte page of b's bins; from
 * the next 512-byte boundary the dirty pages in bit order. */
static uint8_t *dirt_log(TALLOC_CTX *mem, const struct state *a,
			 const struct state *b, const uint8_t *primary,
			 size_t *len_out, uint32_t *pages_out)
{
	size_t bits = b->bins / DH_DIRT_PAGE, map = bits / 8;
	size_t start = round_up(DH_DIRT_OFFSET + DH_DIRT_BITMAP + map,
				DH_LOG_SECTOR), off, len;
	uint32_t pages = 0;
	uint8_t *log;

	for (size_t i = 0; i < bits; i++)
		if (page_dirty(a, b, i * DH_DIRT_PAGE, DH_DIRT_PAGE))
			pages++;
	len = start + (size_t)pages * DH_DIRT_PAGE;
	log = check_alloc(talloc_zero_size(mem, len));
	memcpy(log, a->buf, DH_REGF_HEADER_SIZE);
	put32(log + DH_REGF_TYPE, DH_REGF_TYPE_LOG_OLD);
	put32(log + DH_REGF_BINS_SIZE, b->bins);
	memcpy(log + DH_REGF_WRITTEN, primary + DH_REGF_WRITTEN, 8);
	base_set_sequence(log, get32(primary + DH_REGF_SEQ1),
			  get32(primary + DH_REGF_SEQ1), "old-format log");
	memcpy(log + DH_DIRT_OFFSET, "DIRT", 4);
	off = start;
	for (size_t i = 0; i < bits; i++) {
		if (!page_dirty(a, b, i * DH_DIRT_PAGE, DH_DIRT_PAGE))
			continue;
		log[DH_DIRT_OFFSET + DH_DIRT_BITMAP + i / 8] |= (uint8_t)(1u << (i % 8));
		memcpy(log + off, b->buf + DH_REGF_BASE_BLOCK_SIZE + i * DH_DIRT_PAGE, DH_DIRT_PAGE);
		off += DH_DIRT_PAGE;
	}
	*len_out = len;
	*pages_out = pages;
	return log;
}

/* Where the fixtures of one directory go, and the README line about it. */
struct log_out {
	TALLOC_CTX *mem;
	const char *dir;          /* DIR */
	char *readme;
	const char *sub;          /* the fixture being written */
};

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die("%s: mkdir: %s", path, strerror(errno));
}

/* Start fixture directory DIR/sub with its expected outcome. */
static void fixture_begin(struct log_out *o, const char *sub,
			  const char *expect)
{
	char *path = check_alloc(talloc_asprintf(o->mem, "%s/%s", o->dir, sub));

	make_dir(path);
	talloc_free(path);
	o->sub = sub;
	o->readme = check_alloc(talloc_asprintf_append(o->readme, "%-15s %s\n",
							sub, expect));
}

static void fixture_file(struct log_out *o, const char *name,
			 const uint8_t *buf, size_t len)
{
	char *path = check_alloc(talloc_asprintf(o->mem, "%s/%s/%s", o->dir,
						 o->sub, name));

	write_file(path, buf, len);
	talloc_free(path);
}

/* What every log fixture is made from: the states, the dirty primary and
 * the new-format entries between the states. */
struct replay_src {
	struct state st[N_STATES];
	uint8_t *primary;         /* A, dirty by sequence */
	size_t plen;
	struct hvle e[N_STATES - 1];
	uint32_t dirt_pages;      /* pages of the old-format log */
};

/* The states in rdir, each from the one before, loaded into src->st. */
static void make_states(TALLOC_CTX *tmp, const char *rdir,
			const char *empty_path, struct replay_src *src)
{
	char *path[N_STATES];
	size_t len;

	for (size_t i = 0; i < N_STATES; i++) {
		const struct replay_state *rs = &replay_states[i];

		path[i] = check_alloc(talloc_asprintf(tmp, "%s/%s", rdir,
						      rs->spec.name));
		if (rs->edit == NULL) {
			uint8_t *buf;

			build_hive(tmp, empty_path, path[i], &rs->spec);
			buf = read_file(tmp, path[i], 0, &len);
			base_set_sequence(buf, DIRTY_SEQ2 - 1, DIRTY_SEQ2 - 1,
					  path[i]);
			write_file(path[i], buf, len);
			talloc_free(buf);
		} else {
			edit_state(tmp, path[i - 1], path[i], rs);
		}
		verify_hive(tmp, path[i], &rs->spec);
		load_state(tmp, path[i], rs->spec.name, &src->st[i]);
		if (get32(src->st[i].buf + DH_REGF_SEQ1) != DIRTY_SEQ2 - 1 + i)
			die("%s: sequence %u, expected %u", path[i],
			    (unsigned)get32(src->st[i].buf + DH_REGF_SEQ1),
			    (unsigned)(DIRTY_SEQ2 - 1 + i));
	}
	if (src->st[2].bins <= src->st[1].bins)
		die("%s did not grow: the filler keys are too small",
		    replay_states[2].spec.name);
}

/* The dirty primary: A, sequence 101/100, valid checksum; and the
 * new-format entries 100, 101, 102: A->A1, A1->A2, A2->B. */
static void make_sources(TALLOC_CTX *tmp, struct replay_src *src)
{
	src->plen = src->st[0].len;
	src->primary = check_alloc(talloc_memdup(tmp, src->st[0].buf, src->plen));
	base_set_sequence(src->primary, DIRTY_SEQ1, DIRTY_SEQ2, "dirty primary");
	for (size_t i = 0; i + 1 < N_STATES; i++)
		src->e[i] = hvle_make(tmp, &src->st[i], &src->st[i + 1],
				      DIRTY_SEQ2 + (uint32_t)i);
}

/* Fixture sub: the dirty primary, LOG1 of the n entries e. */
static void new_fixture(struct log_out *o, const struct replay_src *src,
			const char *sub, const char *expect,
			const struct hvle *e, size_t n)
{
	size_t len;
	uint8_t *log = hvle_log(o->mem, src->primary, e, n, &len);

	fixture_begin(o, sub, expect);
	fixture_file(o, "SYSTEM", src->primary, src->plen);
	fixture_file(o, "SYSTEM.LOG1", log, len);
}

/* The new-format logs Windows could have left. */
static void write_new_sound(struct log_out *o, const struct replay_src *src)
{
	size_t len;
	uint8_t *log, *alt;

	new_fixture(o, src, "new-one", "B (LOG1 holds entries 100..102, LOG2 "
		    "is empty)", src->e, 3);
	fixture_file(o, "SYSTEM.LOG2", src->primary, 0);

	new_fixture(o, src, "new-split", "B (LOG1: entries 100,101; LOG2: "
		    "entry 102)", src->e, 2);
	alt = hvle_log(o->mem, src->primary, src->e + 2, 1, &len);
	fixture_file(o, "SYSTEM.LOG2", alt, len);

	new_fixture(o, src, "new-swapped", "B (LOG1: entry 102; LOG2: entries "
		    "100,101)", src->e + 2, 1);
	log = hvle_log(o->mem, src->primary, src->e, 2, &len);
	fixture_file(o, "SYSTEM.LOG2", log, len);
}

/* New-format logs whose entries are damaged: replay stops before them. */
static void write_new_damaged(struct log_out *o, const struct replay_src *src)
{
	struct hvle bad[3] = { src->e[0], src->e[1], src->e[2] };
	size_t len;
	uint8_t *log;

	/* Hash 1 wrong, hash 2 recomputed over it: only hash 1 fails. */
	bad[1] = hvle_copy(o->mem, &src->e[1]);
	bad[1].buf[DH_HVLE_HASH1] ^= 0x01;
	put64(bad[1].buf + DH_HVLE_HASH2,
	      dh_marvin32(bad[1].buf, DH_HVLE_HASH2, DH_MARVIN32_LOG_SEED));
	new_fixture(o, src, "new-badhash", "A1 (entry 101's hash 1 is wrong: "
		    "only entry 100 applies)", bad, 3);
	bad[1] = src->e[1];

	bad[2] = hvle_renumbered(o->mem, &src->e[2], DIRTY_SEQ2 + 3);
	new_fixture(o, src, "new-gap", "A2 (entries 100, 101, 103: stops at "
		    "the gap)", bad, 3);

	fixture_begin(o, "new-truncated", "A2 (LOG1 ends in the middle of "
		      "entry 102)");
	fixture_file(o, "SYSTEM", src->primary, src->plen);
	log = hvle_log(o->mem, src->primary, src->e, 3, &len);
	len = DH_LOG_RECORDS + src->e[0].len + src->e[1].len +
	      round_up(src->e[2].len / 2, DH_LOG_SECTOR);
	if (len >= DH_LOG_RECORDS + src->e[0].len + src->e[1].len + src->e[2].len)
		die("entry 102 is too small to cut in the middle");
	fixture_file(o, "SYSTEM.LOG1", log, len);
}

/* New-format entries whose hashes are right but whose fields lie. */
static void write_new_lying(struct log_out *o, const struct replay_src *src)
{
	struct hvle bad[3] = { src->e[0], src->e[1], src->e[2] };
	uint8_t *ref;
	uint32_t size;

	/* Entry 102's first reference grows by one page: it stays inside the
	 * hive bins, but the pages now run past the end of the entry. */
	bad[2] = hvle_copy(o->mem, &src->e[2]);
	ref = bad[2].buf + DH_HVLE_HEADER;
	size = get32(ref + DH_HVLE_REF_SIZE) + HVLE_PAGE;
	if ((size_t)get32(ref + DH_HVLE_REF_OFFSET) + size > src->st[3].bins)
		die("entry 102's first page run ends the hive bins");
	put32(ref + DH_HVLE_REF_SIZE, size);
	hvle_seal(&bad[2]);
	new_fixture(o, src, "new-pastend", "A2 (entry 102's pages run past its "
		    "end; hashes valid)", bad, 3);

	bad[2] = hvle_copy(o->mem, &src->e[2]);
	put32(bad[2].buf + DH_HVLE_BINS_SIZE, 0x7FFFF000u);
	hvle_seal(&bad[2]);
	new_fixture(o, src, "new-hugebins", "A2 (entry 102 claims 0x7FFFF000 "
		    "bytes of bins: stop or refuse, never allocate it)", bad, 3);
}

/* New-format logs no replay may use. */
static void write_new_refused(struct log_out *o, const struct replay_src *src)
{
	struct hvle bad[3];
	size_t len;
	uint8_t *log;

	fixture_begin(o, "new-badbase", "refused (LOG1's base block checksum "
		      "is wrong, LOG2 is empty)");
	fixture_file(o, "SYSTEM", src->primary, src->plen);
	log = hvle_log(o->mem, src->primary, src->e, 3, &len);
	put32(log + DH_REGF_CHECKSUM_OFFSET,
	      get32(log + DH_REGF_CHECKSUM_OFFSET) ^ 0x5A5A5A5Au);
	fixture_file(o, "SYSTEM.LOG1", log, len);
	fixture_file(o, "SYSTEM.LOG2", log, 0);

	for (size_t i = 0; i < 3; i++)
		bad[i] = hvle_renumbered(o->mem, &src->e[i], 90 + (uint32_t)i);
	new_fixture(o, src, "new-stale", "refused (entries 90..92: below the "
		    "primary's secondary sequence 100)", bad, 3);
}

/* Old format: one log for A->B, and what spoils it. */
static void write_old(struct log_out *o, struct replay_src *src)
{
	size_t len;
	uint8_t *log, *alt;

	fixture_begin(o, "old", "B (old-format DIRT log SYSTEM.LOG)");
	fixture_file(o, "SYSTEM", src->primary, src->plen);
	log = dirt_log(o->mem, &src->st[0], &src->st[3], src->primary, &len,
		       &src->dirt_pages);
	fixture_file(o, "SYSTEM.LOG", log, len);

	/* The primary's file name (debugging only) damaged, checksum left:
	 * the log's base block replaces the primary's. */
	fixture_begin(o, "old-badbase", "B (the primary's base block checksum "
		      "is wrong; the log's base block replaces it)");
	alt = check_alloc(talloc_memdup(o->mem, src->primary, src->plen));
	alt[DH_REGF_FILE_NAME] ^= 0x20;
	fixture_file(o, "SYSTEM", alt, src->plen);
	fixture_file(o, "SYSTEM.LOG", log, len);

	fixture_begin(o, "old-timestamp", "refused (the log's last-written "
		      "time differs from the primary's)");
	fixture_file(o, "SYSTEM", src->primary, src->plen);
	alt = check_alloc(talloc_memdup(o->mem, log, len));
	put64(alt + DH_REGF_WRITTEN, FIXTURE_FILETIME + UINT64_C(10000000));
	put32(alt + DH_REGF_CHECKSUM_OFFSET, regf_checksum(alt, "old-format log"));
	fixture_file(o, "SYSTEM.LOG", alt, len);
}

/* The README, with what the tests need to know about the states. */
static void write_readme(const struct log_out *o, const char *rdir,
			 const struct replay_src *src)
{
	const struct state *st = src->st;
	const struct hvle *e = src->e;
	char *text = check_alloc(talloc_asprintf(o->mem,
		"Transaction-log replay fixtures, written by mkfixtures.\n"
		"\n"
		"replay/: the expected states, each committed by hivex:\n"
		"  A.hive   like win10.hive, SharedSection=1024,20480,768, "
		"sequence 99, bins %u\n"
		"  A1.hive  A with values changed, SharedSection="
		"1024,20480,512, sequence 100, bins %u\n"
		"  A2.hive  A1 plus %u keys under %s, sequence 101, "
		"bins %u\n"
		"  B.hive   A2 with values changed, key %s\\%s deleted, "
		"SharedSection=1024,20480,640, sequence 102, bins %u\n"
		"\n"
		"Every SYSTEM is A dirty by sequence (%u/%u, checksum "
		"valid, A's length).\n"
		"New-format entries: 100 = A->A1 (%u pages), 101 = A1->A2 "
		"(%u pages), 102 = A2->B (%u pages).\n"
		"A new-format replay that ends after entry N gives the "
		"state file of N byte for byte.\n"
		"The old-format log (A->B, %u dirty 512-byte pages) gives "
		"B's hive bins (bytes 4096..end).\n"
		"\n"
		"directory       expected outcome\n%s",
		(unsigned)st[0].bins, (unsigned)st[1].bins,
		REPLAY_FILL_KEYS, REPLAY_FILL, (unsigned)st[2].bins,
		REPLAY_FILL, REPLAY_DELETED, (unsigned)st[3].bins,
		DIRTY_SEQ1, DIRTY_SEQ2, (unsigned)e[0].pages,
		(unsigned)e[1].pages, (unsigned)e[2].pages,
		(unsigned)src->dirt_pages, o->readme));
	char *rpath = check_alloc(talloc_asprintf(o->mem, "%s/README.txt",
						  rdir));

	write_file(rpath, text, strlen(text));
	talloc_free(rpath);
	talloc_free(text);
}

static void write_replay(TALLOC_CTX *mem, const char *dir,
			 const char *empty_path)
{
	TALLOC_CTX *tmp = check_alloc(talloc_new(mem));
	struct log_out o = { tmp, dir, NULL, NULL };
	struct replay_src *src = check_alloc(talloc_zero(tmp, struct replay_src));
	char *rdir = check_alloc(talloc_asprintf(tmp, "%s/replay", dir));

	o.readme = check_alloc(talloc_strdup(tmp, ""));
	make_dir(rdir);
	make_states(tmp, rdir, empty_path, src);
	make_sources(tmp, src);
	write_new_sound(&o, src);
	write_new_damaged(&o, src);
	write_new_lying(&o, src);
	write_new_refused(&o, src);
	write_old(&o, src);
	fixture_begin(&o, "nologs", "refused (dirty, no log at all)");
	fixture_file(&o, "SYSTEM", src->primary, src->plen);
	write_readme(&o, rdir, src);
	talloc_free(tmp);
}

static void write_all(TALLOC_CTX *mem, const char *dir)
{
	uint8_t empty[DH_REGF_BASE_BLOCK_SIZE + EMPTY_BIN];
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

	for (size_t i = 0; i < sizeof softwares / sizeof softwares[0]; i++) {
		path = check_alloc(talloc_asprintf(mem, "%s/%s", dir,
						   softwares[i].name));
		build_software(mem, empty_path, path, &softwares[i]);
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

	write_replay(mem, dir, empty_path);
	talloc_free(empty_path);
}

/* The sample is built on an empty hive written at its own path first:
 * hivex reads the whole file on open, so commit may replace it. */
static void write_sample(TALLOC_CTX *mem, const char *file)
{
	uint8_t empty[DH_REGF_BASE_BLOCK_SIZE + EMPTY_BIN];

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
