package reports

import (
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/clipperhouse/displaywidth"
)

// textTable draws rows under a header in boxes, as tablewriter's default
// table did (the text output is unchanged, see TestTextTableAsTablewriter):
// cells trimmed of surrounding space, a cell of several lines on as many
// lines, header cells centred, row cells left-aligned, one space of
// padding; a tab is 8 spaces (tablewriter guessed 2 to 8 from the
// environment and from .editorconfig files above the working directory). It replaced tablewriter because that package's
// init (a 660 KB width cache) and its table setup cost every pycoroner
// process 3-5 ms, a tenth of a warm command.
//
// upperHeader: the header is shown in capitals, as tablewriter's header
// auto-format showed it (headerTitle).
func textTable(w io.Writer, header []string, rows [][]string, upperHeader bool) error {
	ncol := len(header)
	for _, r := range rows {
		ncol = max(ncol, len(r))
	}
	widths := make([]int, ncol)
	prep := func(cells []string, upper bool) [][]string {
		out := make([][]string, ncol)
		for i := range out {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			c = strings.TrimSpace(c)
			c = strings.ReplaceAll(c, "\t", "        ")
			if upper {
				c = headerTitle(c)
			}
			out[i] = strings.Split(c, "\n")
			for _, line := range out[i] {
				widths[i] = max(widths[i], displayWidth(line))
			}
		}
		return out
	}
	head := prep(header, upperHeader)
	body := make([][][]string, len(rows))
	for i, r := range rows {
		body[i] = prep(r, false)
	}
	var b strings.Builder
	rule := func(left, mid, right string) {
		b.WriteString(left)
		for i, wd := range widths {
			if i > 0 {
				b.WriteString(mid)
			}
			b.WriteString(strings.Repeat("─", wd+2))
		}
		b.WriteString(right)
		b.WriteByte('\n')
	}
	line := func(cells [][]string, center bool) {
		n := 0
		for _, c := range cells {
			n = max(n, len(c))
		}
		for l := 0; l < n; l++ {
			b.WriteString("│")
			for i, c := range cells {
				if i > 0 {
					b.WriteString("│")
				}
				s := ""
				if l < len(c) {
					s = c[l]
				}
				gap := widths[i] - displayWidth(s)
				left := 0
				if center {
					left = gap / 2 // an odd space on the right
				}
				b.WriteByte(' ')
				b.WriteString(strings.Repeat(" ", left))
				b.WriteString(s)
				b.WriteString(strings.Repeat(" ", gap-left))
				b.WriteByte(' ')
			}
			b.WriteString("│\n")
		}
	}
	rule("┌", "┬", "┐")
	line(head, true)
	if len(body) > 0 {
		rule("├", "┼", "┤")
	}
	for _, r := range body {
		line(r, false)
	}
	rule("└", "┴", "┘")
	_, err := io.WriteString(w, b.String())
	return err
}

// displayWidth is the width of s in terminal columns, rune by rune (East
// Asian wide characters 2, combining marks 0).
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		if r < 0x7f && r >= 0x20 {
			n++
			continue
		}
		n += displaywidth.Options{}.Rune(r)
	}
	return n
}

// headerTitle is tablewriter's header auto-format (tw.Title of
// tw.SplitCamelCase, MIT licence): words split where the class of
// character changes (lower, upper, digit, other; "fooBar" is two words),
// "_" and blank words dropped, "." kept only between digits or spaces,
// in capitals: "__file__" is "FILE", "sys.path" "SYS . PATH".
func headerTitle(s string) string {
	if !utf8.ValidString(s) {
		return titleWords(s)
	}
	var groups [][]rune
	last := 0
	for _, r := range s {
		class := 4
		switch {
		case unicode.IsLower(r):
			class = 1
		case unicode.IsUpper(r):
			class = 2
		case unicode.IsDigit(r):
			class = 3
		}
		if class == last {
			groups[len(groups)-1] = append(groups[len(groups)-1], r)
		} else {
			groups = append(groups, []rune{r})
		}
		last = class
	}
	for i := 0; i < len(groups)-1; i++ {
		if len(groups[i]) > 0 && len(groups[i+1]) > 0 && unicode.IsUpper(groups[i][0]) && unicode.IsLower(groups[i+1][0]) {
			groups[i+1] = append([]rune{groups[i][len(groups[i])-1]}, groups[i+1]...)
			groups[i] = groups[i][:len(groups[i])-1]
		}
	}
	var words []string
	for _, g := range groups {
		if w := string(g); len(g) > 0 && strings.TrimSpace(w) != "" && w != "_" {
			words = append(words, w)
		}
	}
	return titleWords(strings.Join(words, " "))
}

// titleWords is tw.Title: "_" a space, "." a space unless between digits
// or spaces, trimmed, in capitals.
func titleWords(name string) string {
	origLen := len(name)
	rs := []rune(name)
	numOrSpace := func(r rune) bool { return '0' <= r && r <= '9' || r == ' ' }
	for i, r := range rs {
		switch r {
		case '_':
			rs[i] = ' '
		case '.':
			if (i != 0 && !numOrSpace(rs[i-1])) || (i != len(rs)-1 && !numOrSpace(rs[i+1])) {
				rs[i] = ' '
			}
		}
	}
	name = strings.TrimSpace(string(rs))
	if name == "" && origLen > 0 {
		name = " "
	}
	return strings.ToUpper(name)
}
