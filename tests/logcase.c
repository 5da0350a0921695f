/*
 * Test support: see logcase.h.
 */
#include "config.h"

#include <string.h>

#include "io.h"
#include "logcase.h"
#include "regf.h"

struct dh_log_range *logcase_diff(TALLOC_CTX *mem, const uint8_t *old,
				  const uint8_t *nw, uint32_t page, size_t *n)
{
	uint32_t old_bins = dh_le32(old + DH_REGF_BINS_SIZE);
	uint32_t bins = dh_le32(nw + DH_REGF_BINS_SIZE);
	struct dh_log_range *r = talloc_array(mem, struct dh_log_range,
					      bins / page + 1);
	size_t k = 0;

	if (r == NULL)
		return NULL;
	for (uint32_t at = 0; at < bins; at += page) {
		const uint8_t *p = nw + DH_REGF_BINS_START + at;

		if (at < old_bins &&
		    memcmp(p, old + DH_REGF_BINS_START + at, page) == 0)
			continue;
		if (k > 0 && r[k - 1].offset + r[k - 1].size == at)
			r[k - 1].size += page;
		else
			r[k++] = (struct dh_log_range){ at, page };
	}
	*n = k;
	return r;
}

uint8_t *logcase_dirty(TALLOC_CTX *mem, const uint8_t *old, size_t len,
		       const uint8_t *nw, enum dh_log_format f)
{
	uint8_t *p = talloc_memdup(mem, old, len);

	if (p == NULL)
		return NULL;
	dh_put_le32(p + DH_REGF_SEQ1, dh_le32(nw + DH_REGF_SEQ1));
	if (f == DH_LOG_OLD)
		dh_put_le64(p + DH_REGF_WRITTEN, dh_le64(nw + DH_REGF_WRITTEN));
	dh_put_le32(p + DH_REGF_CHECKSUM_OFFSET, dh_regf_checksum(p));
	return p;
}
