/* utf8: RFC 3629 validation for cell values (t: or x:) and for every string
 * of a payload document. ASCII runs are checked eight bytes at a time because
 * cell text is mostly ASCII and this runs over every byte of every export. */
#include "utf8.h"

#include <string.h>

bool utf8_plain(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t need;
		uint32_t cp;
		uint64_t w;
		/* Eight ASCII bytes, none of them NUL, at a time. */
		if (n - i >= 8) {
			memcpy(&w, s + i, 8);
			if (((w | ((w & 0x7f7f7f7f7f7f7f7full) + 0x7f7f7f7f7f7f7f7full)) &
			     0x8080808080808080ull) == 0x8080808080808080ull &&
			    (w & 0x8080808080808080ull) == 0) {
				i += 8;
				continue;
			}
		}
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + need >= n)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += need + 1;
	}
	return true;
}
