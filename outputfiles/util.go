package outputfiles

import "unicode/utf8"

func decodeRune(s string) (rune, int) {
	r, w := utf8.DecodeRuneInString(s)
	if w == 0 {
		return utf8.RuneError, 1
	}
	return r, w
}
