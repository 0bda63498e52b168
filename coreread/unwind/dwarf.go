package unwind

import (
	"debug/dwarf"
	"sort"
	"sync"
)

// dwarfIndex answers "which functions, inlined ones included, and which
// source line are at this address" from a file's DWARF.
type dwarfIndex struct {
	mu     sync.Mutex
	d      *dwarf.Data
	units  []unitRange // sorted by lo
	built  bool
	lines  map[dwarf.Offset]*lineTable
	maxDIE int
	calls  map[dwarf.Offset]*unitCalls
}

type unitRange struct {
	lo, hi uint64
	off    dwarf.Offset
}

type lineTable struct {
	rows  []dwarf.LineEntry // sequence rows by address
	files []*dwarf.LineFile
}

func newDWARFIndex(d *dwarf.Data) *dwarfIndex {
	return &dwarfIndex{d: d, lines: map[dwarf.Offset]*lineTable{}, maxDIE: 1 << 20}
}

// maxUnits bounds the compilation units indexed per file.
const maxUnits = 1 << 16

func (x *dwarfIndex) build() {
	x.built = true
	r := x.d.Reader()
	for n := 0; n < maxUnits; n++ {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag == dwarf.TagCompileUnit || e.Tag == dwarf.TagPartialUnit {
			if ranges, err := x.d.Ranges(e); err == nil {
				for _, rg := range ranges {
					if rg[1] > rg[0] {
						x.units = append(x.units, unitRange{rg[0], rg[1], e.Offset})
					}
				}
			}
		}
		r.SkipChildren()
	}
	sort.Slice(x.units, func(i, j int) bool { return x.units[i].lo < x.units[j].lo })
}

func (x *dwarfIndex) unitAt(pc uint64) (dwarf.Offset, bool) {
	i := sort.Search(len(x.units), func(i int) bool { return x.units[i].lo > pc })
	// Ranges may nest or overlap a little: look back a few.
	for j := i - 1; j >= 0 && j >= i-8; j-- {
		if pc >= x.units[j].lo && pc < x.units[j].hi {
			return x.units[j].off, true
		}
	}
	return 0, false
}

// dwAsmLanguage is DW_LANG_Mips_Assembler, which gas records for any
// assembler source.
const dwAsmLanguage = 0x8001

// place is one function at a pc: the outermost is the real function, the
// others were inlined into it.
type place struct {
	function string
	file     string
	line     int
}

// lookup returns the functions at pc, innermost first, each with its
// source position: the innermost's from the line table, each outer one's
// from where the inner one was inlined.
func (x *dwarfIndex) lookup(pc uint64) []place {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.built {
		x.build()
	}
	cuOff, ok := x.unitAt(pc)
	if !ok {
		return nil
	}
	r := x.d.Reader()
	r.Seek(cuOff)
	cu, err := r.Next()
	if err != nil || cu == nil {
		return nil
	}
	var chain []*dwarf.Entry // outermost first
	x.descend(r, pc, &chain, 0)
	lt := x.lineTable(cu)
	if lang, ok := cu.Val(dwarf.AttrLanguage).(int64); ok && lang == dwAsmLanguage {
		// gas names a function by the label it was entered by (__clone3);
		// gdb, like us, names assembler code by its ELF symbol (clone3).
		file, line := "", 0
		if lt != nil {
			file, line = lt.at(pc)
		}
		return []place{{file: file, line: line}}
	}
	var out []place
	file, line := "", 0
	if lt != nil {
		file, line = lt.at(pc)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		out = append(out, place{function: x.name(chain[i], 0), file: file, line: line})
		file, line = "", 0
		if lt != nil {
			if idx, ok := chain[i].Val(dwarf.AttrCallFile).(int64); ok && idx >= 0 && int(idx) < len(lt.files) && lt.files[idx] != nil {
				file = lt.files[idx].Name
			}
			if l, ok := chain[i].Val(dwarf.AttrCallLine).(int64); ok {
				line = int(l)
			}
		}
	}
	return out
}

// descend reads the children of the current entry and follows the
// subprogram, inlined subroutine or lexical block that holds pc.
func (x *dwarfIndex) descend(r *dwarf.Reader, pc uint64, chain *[]*dwarf.Entry, depth int) {
	if depth > 64 {
		return
	}
	for n := 0; n < x.maxDIE; n++ {
		e, err := r.Next()
		if err != nil || e == nil || e.Tag == 0 {
			return
		}
		switch e.Tag {
		case dwarf.TagSubprogram, dwarf.TagInlinedSubroutine, dwarf.TagLexDwarfBlock:
			ranges, _ := x.d.Ranges(e)
			if len(ranges) == 0 && e.Tag == dwarf.TagLexDwarfBlock && e.Children {
				x.descend(r, pc, chain, depth+1)
				continue
			}
			if contains(ranges, pc) {
				if e.Tag != dwarf.TagLexDwarfBlock {
					*chain = append(*chain, e)
				}
				if e.Children {
					x.descend(r, pc, chain, depth+1)
				}
				return
			}
		}
		if e.Children {
			r.SkipChildren()
		}
	}
}

func contains(ranges [][2]uint64, pc uint64) bool {
	for _, rg := range ranges {
		if pc >= rg[0] && pc < rg[1] {
			return true
		}
	}
	return false
}

// name is the function's linkage name (what gdb prints: __GI_raise) or its
// name, following abstract origins and specifications.
func (x *dwarfIndex) name(e *dwarf.Entry, depth int) string {
	if s, ok := e.Val(dwarf.AttrLinkageName).(string); ok && s != "" {
		return s
	}
	if s, ok := e.Val(dwarf.AttrName).(string); ok && s != "" {
		return s
	}
	if depth > 4 {
		return ""
	}
	for _, a := range []dwarf.Attr{dwarf.AttrAbstractOrigin, dwarf.AttrSpecification} {
		if off, ok := e.Val(a).(dwarf.Offset); ok {
			r := x.d.Reader()
			r.Seek(off)
			if o, err := r.Next(); err == nil && o != nil {
				if s := x.name(o, depth+1); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

// maxLineRows bounds the rows read from one unit's line program.
const maxLineRows = 1 << 22

func (x *dwarfIndex) lineTable(cu *dwarf.Entry) *lineTable {
	if lt, ok := x.lines[cu.Offset]; ok {
		return lt
	}
	x.lines[cu.Offset] = nil
	lr, err := x.d.LineReader(cu)
	if err != nil || lr == nil {
		return nil
	}
	lt := &lineTable{files: lr.Files()}
	var e dwarf.LineEntry
	for n := 0; n < maxLineRows; n++ {
		if err := lr.Next(&e); err != nil {
			break
		}
		lt.rows = append(lt.rows, e)
	}
	// Sequences may come in any order; sort rows by address, keeping the
	// order of rows at one address.
	sort.SliceStable(lt.rows, func(i, j int) bool { return lt.rows[i].Address < lt.rows[j].Address })
	lt.files = lr.Files()
	x.lines[cu.Offset] = lt
	return lt
}

// at returns the source position of the row that covers pc.
func (lt *lineTable) at(pc uint64) (string, int) {
	i := sort.Search(len(lt.rows), func(i int) bool { return lt.rows[i].Address > pc })
	for j := i - 1; j >= 0; j-- {
		e := lt.rows[j]
		if e.EndSequence {
			return "", 0
		}
		if e.Line == 0 {
			continue
		}
		name := ""
		if e.File != nil {
			name = e.File.Name
		}
		return name, e.Line
	}
	return "", 0
}
