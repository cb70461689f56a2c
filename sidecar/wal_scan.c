/* wal_scan: which pages the commits since the last look wrote (see
 * wal_scan.h). The formats are SQLite's documented WAL file and wal-index
 * header (https://sqlite.org/walformat.html); both are read through the VFS
 * objects SQLite opened for the sidecar's connection. */
#include "wal_scan.h"

#include <stdlib.h>
#include <string.h>

#define WAL_HDR 32
#define FRAME_HDR 24
#define WAL_MAGIC 0x377f0682u
#define WAL_VERSION 3007000u
#define SHM_REGION 32768
#define SHM_HDR 48

struct shm_hdr {
	uint32_t mx_frame;
	uint8_t salt[8];
};

struct wal_file {
	sqlite3_file *f;
	uint32_t pgsz;
	bool bigend; /* checksums over big-endian words */
	uint8_t salt[8];
	uint32_t hdr_cksum[2];
	uint8_t *buf; /* one frame */
};

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* SQLite's WAL checksum: s += words of p, two at a time (n a multiple of 8). */
static void wal_cksum(bool bigend, const uint8_t *p, size_t n, uint32_t s[2])
{
	uint32_t s1 = s[0], s2 = s[1];

	for (size_t i = 0; i + 8 <= n; i += 8) {
		s1 += (bigend ? get_be32(p + i) : get_le32(p + i)) + s2;
		s2 += (bigend ? get_be32(p + i + 4) : get_le32(p + i + 4)) + s1;
	}
	s[0] = s1;
	s[1] = s2;
}

/* The published wal-index header: both copies read apart and equal, and its
 * checksum right (SQLite's own test for a torn read). */
static int read_shm_hdr(sqlite3 *db, struct shm_hdr *out)
{
	sqlite3_file *f = NULL;
	volatile void *map = NULL;
	uint8_t a[SHM_HDR], b[SHM_HDR];
	uint32_t w[12], s[2];

	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || f == NULL ||
	    f->pMethods == NULL || f->pMethods->iVersion < 2 ||
	    f->pMethods->xShmMap(f, 0, SHM_REGION, 0, &map) != SQLITE_OK || map == NULL)
		return -1;
	for (int tries = 0; tries < 100; tries++) {
		const volatile uint8_t *m = map;
		for (size_t i = 0; i < SHM_HDR; i++)
			a[i] = m[i];
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		for (size_t i = 0; i < SHM_HDR; i++)
			b[i] = m[SHM_HDR + i];
		if (memcmp(a, b, SHM_HDR) != 0)
			continue;
		memcpy(w, a, sizeof(w));
		s[0] = s[1] = 0;
		for (size_t i = 0; i < 10; i += 2) { /* native byte order, over the first 40 bytes */
			s[0] += w[i] + s[1];
			s[1] += w[i + 1] + s[0];
		}
		if (w[0] != WAL_VERSION || a[12] != 1 || s[0] != w[10] || s[1] != w[11])
			continue;
		out->mx_frame = w[4];
		memcpy(out->salt, a + 32, 8);
		return 0;
	}
	return -1;
}

/* Opens the view of the WAL file: its header, checked. -1 when there is no
 * valid header (not written yet, truncated, torn). */
static int wal_open(sqlite3 *db, struct wal_file *w)
{
	uint8_t h[WAL_HDR];
	uint32_t magic, s[2] = {0, 0};

	memset(w, 0, sizeof(*w));
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &w->f) != SQLITE_OK ||
	    w->f == NULL || w->f->pMethods == NULL ||
	    w->f->pMethods->xRead(w->f, h, WAL_HDR, 0) != SQLITE_OK)
		return -1;
	magic = get_be32(h);
	if ((magic & ~1u) != WAL_MAGIC || get_be32(h + 4) != WAL_VERSION)
		return -1;
	w->bigend = magic & 1;
	w->pgsz = get_be32(h + 8) == 1 ? 65536 : get_be32(h + 8);
	wal_cksum(w->bigend, h, 24, s);
	if (w->pgsz < 512 || w->pgsz > 65536 || (w->pgsz & (w->pgsz - 1)) != 0 ||
	    s[0] != get_be32(h + 24) || s[1] != get_be32(h + 28))
		return -1;
	memcpy(w->salt, h + 16, 8);
	w->hdr_cksum[0] = s[0];
	w->hdr_cksum[1] = s[1];
	w->buf = malloc(FRAME_HDR + w->pgsz);
	return w->buf == NULL ? -1 : 0;
}

enum frame_state { FRAME_OK, FRAME_EOF, FRAME_IOERR, FRAME_OTHER_SALT, FRAME_BAD };

/* Reads frame i (1-based) of a WAL with salt, continuing the checksum s
 * (updated only when the frame is valid). */
static enum frame_state frame_read(struct wal_file *w, uint32_t i, const uint8_t salt[8], uint32_t s[2])
{
	int64_t off = WAL_HDR + (int64_t)(i - 1) * (FRAME_HDR + w->pgsz);
	uint32_t c[2] = {s[0], s[1]};
	int rc = w->f->pMethods->xRead(w->f, w->buf, (int)(FRAME_HDR + w->pgsz), off);

	if (rc == SQLITE_IOERR_SHORT_READ)
		return FRAME_EOF;
	if (rc != SQLITE_OK)
		return FRAME_IOERR;
	if (memcmp(w->buf + 8, salt, 8) != 0)
		return FRAME_OTHER_SALT;
	wal_cksum(w->bigend, w->buf, 8, c);
	wal_cksum(w->bigend, w->buf + FRAME_HDR, w->pgsz, c);
	if (c[0] != get_be32(w->buf + 16) || c[1] != get_be32(w->buf + 20) || get_be32(w->buf) == 0)
		return FRAME_BAD;
	s[0] = c[0];
	s[1] = c[1];
	return FRAME_OK;
}

static int pages_add(struct wal_pages *p, uint32_t pgno)
{
	if (p->n == p->cap) {
		size_t ncap = p->cap == 0 ? 64 : p->cap * 2;
		uint32_t *n = realloc(p->pgno, ncap * sizeof(*n));
		if (n == NULL)
			return -1;
		p->pgno = n;
		p->cap = ncap;
	}
	p->pgno[p->n++] = pgno;
	return 0;
}

/* One varint at p (at most 9 bytes, within end); 0 when it runs past end. */
static size_t varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < 9; i++) {
		if (p + i >= end)
			return 0;
		if (i == 8) {
			*v = (*v << 8) | p[i];
			return 9;
		}
		*v = (*v << 7) | (p[i] & 0x7f);
		if (!(p[i] & 0x80))
			return i + 1;
	}
	return 0;
}

static int opaque_add(struct wal_pages *p, uint32_t pgno)
{
	if (p->nopaque == p->capopaque) {
		size_t ncap = p->capopaque == 0 ? 16 : p->capopaque * 2;
		uint32_t *n = realloc(p->opaque, ncap * sizeof(*n));
		if (n == NULL)
			return -1;
		p->opaque = n;
		p->capopaque = ncap;
	}
	p->opaque[p->nopaque++] = pgno;
	return 0;
}

/* The rowids of a table-leaf image (SQLite's file format, section 1.6),
 * or, for an image of no b-tree type, the page as opaque. A malformed leaf
 * counts as opaque too. */
static int page_rows(struct wal_pages *p, uint32_t pgno, const uint8_t *img, uint32_t pgsz)
{
	const uint8_t *h = img + (pgno == 1 ? 100 : 0), *end = img + pgsz;
	uint32_t ncells;

	if (h[0] == 0x02 || h[0] == 0x05 || h[0] == 0x0a)
		return 0; /* interior and index pages: a row change also writes its leaf */
	if (h[0] != 0x0d)
		return opaque_add(p, pgno);
	ncells = (uint32_t)h[3] << 8 | h[4];
	if (h + 8 + 2 * (size_t)ncells > end)
		return opaque_add(p, pgno);
	for (uint32_t i = 0; i < ncells; i++) {
		uint32_t off = (uint32_t)h[8 + 2 * i] << 8 | h[9 + 2 * i];
		uint64_t len, rowid;
		size_t a, b;
		if (off >= pgsz || (a = varint(img + off, end, &len)) == 0 ||
		    (b = varint(img + off + a, end, &rowid)) == 0)
			return opaque_add(p, pgno);
		if (p->nrows == p->caprows) {
			size_t ncap = p->caprows == 0 ? 64 : p->caprows * 2;
			struct wal_leaf_row *n = realloc(p->rows, ncap * sizeof(*n));
			if (n == NULL)
				return -1;
			p->rows = n;
			p->caprows = ncap;
		}
		p->rows[p->nrows++] = (struct wal_leaf_row){pgno, (int64_t)rowid};
	}
	return 0;
}

/* Frames from+1..to of w, all of which must be valid and to a commit:
 * their pages go to pages (when not NULL), *s ends at frame to. */
static int scan_published(struct wal_file *w, uint32_t from, uint32_t to, uint32_t s[2],
			  struct wal_pages *pages)
{
	for (uint32_t i = from + 1; i <= to; i++) {
		if (frame_read(w, i, w->salt, s) != FRAME_OK)
			return -1;
		if (pages != NULL && (pages_add(pages, get_be32(w->buf)) == -1 ||
				      page_rows(pages, get_be32(w->buf), w->buf + FRAME_HDR, w->pgsz) == -1))
			return -1;
	}
	return to == from || get_be32(w->buf + 4) != 0 ? 0 : -1;
}

/* After exactly one restart: the frames the old WAL (pos) committed after
 * pos->frame, while the new WAL has not overwritten them. The old WAL ended
 * where its checksum chain breaks on a frame of neither WAL; a frame of the
 * new WAL there, or the end of the file, leaves it unknown (-1). */
static int scan_old_tail(struct wal_file *w, const struct wal_pos *pos, struct wal_pages *pages)
{
	uint32_t s[2] = {pos->cksum[0], pos->cksum[1]};
	size_t committed = pages->n;

	if (pos->frame == 0) /* the old header, where its chain starts, is gone */
		return -1;
	for (uint32_t i = pos->frame + 1;; i++) {
		enum frame_state fs = frame_read(w, i, pos->salt, s);
		if (fs == FRAME_EOF || fs == FRAME_IOERR ||
		    (fs == FRAME_OTHER_SALT && memcmp(w->buf + 8, w->salt, 8) == 0))
			return -1;
		if (fs != FRAME_OK)
			break;
		if (pages_add(pages, get_be32(w->buf)) == -1 ||
		    page_rows(pages, get_be32(w->buf), w->buf + FRAME_HDR, w->pgsz) == -1)
			return -1;
		if (get_be32(w->buf + 4) != 0)
			committed = pages->n;
	}
	pages->n = committed; /* frames after the last commit never committed (their rows and
			       * opaque pages stay: a superset is harmless) */
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void pages_sort(struct wal_pages *p)
{
	size_t k = 0;

	if (p->n == 0)
		return;
	qsort(p->pgno, p->n, sizeof(*p->pgno), cmp_u32);
	for (size_t i = 1; i < p->n; i++) {
		if (p->pgno[i] != p->pgno[k])
			p->pgno[++k] = p->pgno[i];
	}
	p->n = k + 1;
}

/* Re-anchors pos at the published end of the current WAL. */
static enum wal_scan_result rescan(sqlite3 *db, const struct shm_hdr *sh, struct wal_pos *pos,
				   const char **why, const char *reason)
{
	struct wal_file w;

	*why = reason;
	memset(pos, 0, sizeof(*pos));
	if (sh == NULL)
		return WAL_SCAN_RESCAN;
	memcpy(pos->salt, sh->salt, 8);
	if (sh->mx_frame == 0) {
		pos->valid = true;
		return WAL_SCAN_RESCAN;
	}
	if (wal_open(db, &w) == 0 && memcmp(w.salt, sh->salt, 8) == 0) {
		memcpy(pos->cksum, w.hdr_cksum, sizeof(pos->cksum));
		pos->valid = scan_published(&w, 0, sh->mx_frame, pos->cksum, NULL) == 0;
		pos->frame = sh->mx_frame;
	}
	free(w.buf);
	return WAL_SCAN_RESCAN;
}

/* Frames of the current WAL from pos->frame to the published end. */
static int scan_current(sqlite3 *db, const struct shm_hdr *sh, struct wal_pos *pos,
			struct wal_pages *pages, struct wal_file *w)
{
	uint32_t s[2];

	if (sh->mx_frame == pos->frame)
		return 0;
	if (w->f == NULL && wal_open(db, w) == -1)
		return -1;
	if (memcmp(w->salt, sh->salt, 8) != 0)
		return -1;
	if (pos->frame == 0)
		memcpy(s, w->hdr_cksum, sizeof(s));
	else
		memcpy(s, pos->cksum, sizeof(s));
	if (scan_published(w, pos->frame, sh->mx_frame, s, pages) == -1)
		return -1;
	pos->frame = sh->mx_frame;
	memcpy(pos->cksum, s, sizeof(s));
	return 0;
}

enum wal_scan_result wal_scan(sqlite3 *db, struct wal_pos *pos, struct wal_pages *pages,
			      const char **why)
{
	struct shm_hdr sh;
	struct wal_file w = {0};
	int rc = 0;

	pages->n = 0;
	pages->nrows = 0;
	pages->nopaque = 0;
	*why = NULL;
	if (read_shm_hdr(db, &sh) == -1)
		return rescan(db, NULL, pos, why, "no readable wal-index");
	if (!pos->valid)
		return rescan(db, &sh, pos, why, "no earlier position");
	if (memcmp(sh.salt, pos->salt, 8) != 0) {
		if (get_be32(sh.salt) != get_be32(pos->salt) + 1)
			return rescan(db, &sh, pos, why, "WAL restarted more than once");
		if (wal_open(db, &w) == -1 || memcmp(w.salt, sh.salt, 8) != 0)
			rc = -1; /* new header not written yet: cannot tell old frames from new */
		if (rc == 0)
			rc = scan_old_tail(&w, pos, pages);
		if (rc == 0) {
			memcpy(pos->salt, sh.salt, 8);
			pos->frame = 0;
		}
	} else if (sh.mx_frame < pos->frame) {
		rc = -1;
	}
	if (rc == 0)
		rc = scan_current(db, &sh, pos, pages, &w);
	free(w.buf);
	if (rc == -1)
		return rescan(db, &sh, pos, why, "WAL frames since the last look not all readable");
	pages_sort(pages);
	if (pages->nopaque > 1) {
		qsort(pages->opaque, pages->nopaque, sizeof(uint32_t), cmp_u32);
		size_t k = 0;
		for (size_t i = 1; i < pages->nopaque; i++) {
			if (pages->opaque[i] != pages->opaque[k])
				pages->opaque[++k] = pages->opaque[i];
		}
		pages->nopaque = k + 1;
	}
	return WAL_SCAN_PAGES;
}

void wal_pages_free(struct wal_pages *p)
{
	free(p->pgno);
	free(p->rows);
	free(p->opaque);
	memset(p, 0, sizeof(*p));
}

bool wal_pages_has(const uint32_t *a, size_t n, uint32_t pgno)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] == pgno)
			return true;
		if (a[mid] < pgno)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}
