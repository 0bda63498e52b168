// Package suspects finds where memory accumulates in a dominator tree: the
// leak suspects. It works on node ids, a dominator tree and a type index
// per node; it knows nothing of Python or of cores (the caller names the
// nodes and types).
//
// The walk starts at the virtual root. At each node it follows the biggest
// dominated child while that child holds most (Options.Dominant) of the
// node's retained size: such a node only carries the memory (a module, its
// __dict__, an instance holding one big container). Where no child
// dominates, the children big enough to matter on their own
// (Options.MinShare of the heap) are walked in turn, and the node itself
// is a suspect when what remains, spread over its other children, is
// still big enough: that is the accumulation point (a dict of 3,000
// records, a list of sessions). A node whose big children are shards of
// it (three or more of one type, at least half its children, holding most
// of it: a dict of a few big lists) is the suspect itself, however big
// each shard has grown.
package suspects

import (
	"runtime"
	"slices"

	"github.com/pycoroner/pycoroner/graph/dominators"
	"github.com/pycoroner/pycoroner/internal/faultgroup"
)

// Options tune Find. The zero value takes the defaults.
type Options struct {
	// Dominant is the share of a node's retained size its biggest child
	// must hold for the walk to go down to it (default 0.8).
	Dominant float64
	// MinShare is the share of the heap a suspect must retain (default
	// 0.05); MinBytes, when set, is a floor in bytes on top of it.
	MinShare float64
	MinBytes uint64
	// Max bounds the suspects returned (default 10); MaxTypes the types
	// listed per suspect (default 5).
	Max      int
	MaxTypes int
}

func (o Options) withDefaults() Options {
	if o.Dominant <= 0 || o.Dominant > 1 {
		o.Dominant = 0.8
	}
	if o.MinShare <= 0 || o.MinShare > 1 {
		o.MinShare = 0.05
	}
	if o.Max <= 0 {
		o.Max = 10
	}
	if o.MaxTypes <= 0 {
		o.MaxTypes = 5
	}
	return o
}

// Suspect is one accumulation point.
type Suspect struct {
	Node     dominators.Node
	Retained uint64
	Count    uint32
	Share    float64 // of the heap (the tree's TotalRetained)
	// Accumulates groups the node's dominated children by type, the
	// biggest retained first: what it holds many of.
	Accumulates []TypeCount
	// Spread is the suspect's retained size minus its big children's
	// (those walked on their own): its own size and its small children's.
	Spread uint64
}

// TypeCount is how many of one type a suspect holds directly, and what
// they retain.
type TypeCount struct {
	Type     uint32
	Count    int
	Retained uint64
}

// Find lists the suspects of tree, biggest retained first. typeOf gives a
// node's type index.
func Find(tree *dominators.Tree, typeOf []uint32, opts Options) []Suspect {
	opts = opts.withDefaults()
	total := tree.TotalRetained
	if total == 0 || !tree.HasSizes() {
		return nil
	}
	minBytes := max(uint64(opts.MinShare*float64(total)), opts.MinBytes, 1)
	retained := func(u dominators.Node) uint64 {
		if u == dominators.Root {
			return total
		}
		return tree.Retained(u)
	}
	var out []Suspect
	stack := []dominators.Node{dominators.Root}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		// Go down while one child holds most of the memory: those nodes
		// only carry it. A run of one type along the way (a linked list,
		// each node retaining the rest) is itself the accumulation.
		path := []dominators.Node{x}
		for {
			kids := tree.Children(path[len(path)-1])
			if len(kids) == 0 || float64(tree.Retained(kids[0])) < opts.Dominant*float64(retained(path[len(path)-1])) {
				break
			}
			path = append(path, kids[0])
			// The carrier's other big children are walked on their own.
			for _, k := range kids[1:] {
				if tree.Retained(k) < minBytes {
					break
				}
				stack = append(stack, k)
			}
		}
		if head, n := chainHead(tree, path, typeOf); n >= minChain && tree.Retained(head) >= minBytes {
			out = append(out, Suspect{Node: head, Retained: tree.Retained(head), Count: tree.Count[head],
				Share: float64(tree.Retained(head)) / float64(total), Spread: tree.Retained(head),
				Accumulates: []TypeCount{{Type: typeOf[head], Count: n, Retained: tree.Retained(head)}}})
			continue
		}
		x = path[len(path)-1]
		kids := tree.Children(x)
		rx := retained(x)
		if x != dominators.Root && sharded(tree, typeOf, kids, rx, minBytes, opts.Dominant) {
			// A dict of a few big lists: the dict is where the memory
			// accumulates, not each of its shards (which, each over the
			// threshold, hid it once the leak had grown).
			out = append(out, Suspect{Node: x, Retained: rx, Count: tree.Count[x], Share: float64(rx) / float64(total),
				Accumulates: byType(tree, typeOf, kids, opts.MaxTypes), Spread: rx})
			continue
		}
		spread := rx // x's own size counts: one huge object is a suspect too
		big := 0     // the children come biggest first
		for _, k := range kids {
			if tree.Retained(k) < minBytes {
				break
			}
			stack = append(stack, k)
			spread -= tree.Retained(k)
			big++
		}
		if x == dominators.Root || spread < minBytes {
			continue
		}
		out = append(out, Suspect{Node: x, Retained: rx, Count: tree.Count[x], Share: float64(rx) / float64(total),
			Accumulates: byType(tree, typeOf, kids[big:], opts.MaxTypes), Spread: spread})
	}
	slices.SortStableFunc(out, func(a, b Suspect) int {
		if a.Retained != b.Retained {
			if a.Retained > b.Retained {
				return -1
			}
			return 1
		}
		return int(a.Node) - int(b.Node)
	})
	if len(out) > opts.Max {
		out = out[:opts.Max]
	}
	return out
}

// minShards is the fewest big children of one type that make their
// parent a sharded container.
const minShards = 3

// sharded says whether a node's big children (retaining minBytes or more;
// kids come biggest first) are shards of one container: at least
// minShards of one type, at least half of all its children, together
// holding most (dominant) of what the node retains. A namespace that
// holds a few big caches among many small things is not.
func sharded(tree *dominators.Tree, typeOf []uint32, kids []dominators.Node, rx, minBytes uint64, dominant float64) bool {
	count := map[uint32]int{}
	sum := map[uint32]uint64{}
	for _, k := range kids {
		if tree.Retained(k) < minBytes {
			break
		}
		count[typeOf[k]]++
		sum[typeOf[k]] += tree.Retained(k)
	}
	for t, n := range count {
		if n >= minShards && 2*n >= len(kids) && float64(sum[t]) >= dominant*float64(rx) {
			return true
		}
	}
	return false
}

// minChain is the fewest repeats of one type along a dominant path that
// make a chain (a linked list) rather than a few carriers.
const minChain = 16

// chainHead finds a chain at the end of a path of dominant children: a
// suffix whose types repeat with a period of at most 4 (a node, or a node
// and its __dict__, and so on) for at least minChain periods. It returns
// the suffix's first node and how many nodes of its type the suffix has.
//
// The suffix can begin with the chain's holder when it has the type of one
// of the chain's parts (a module's __dict__ before nodes that each have a
// __dict__): a start with more children than its counterpart one period on
// is such a holder, and the start moves on.
func chainHead(tree *dominators.Tree, path []dominators.Node, typeOf []uint32) (dominators.Node, int) {
	start := 0
	if len(path) > 0 && path[0] == dominators.Root {
		start = 1
	}
	p := path[start:]
	for period := 1; period <= 4; period++ {
		s := len(p) - period
		for s > 0 && typeOf[p[s-1]] == typeOf[p[s-1+period]] {
			s--
		}
		if s < 0 || len(p)-s < minChain*period {
			continue
		}
		for k := 0; k < period-1 && len(tree.Children(p[s])) > len(tree.Children(p[s+period])); k++ {
			s++
		}
		n := 0
		for _, u := range p[s:] {
			if typeOf[u] == typeOf[p[s]] {
				n++
			}
		}
		return p[s], n
	}
	return 0, 0
}

// byType sums nodes per type, the biggest retained first: the small
// children of a suspect (millions of them, not copied), in parts one per
// CPU when they are many, each part's types kept in the order they come
// (the order of ties, as in one pass).
func byType(tree *dominators.Tree, typeOf []uint32, nodes []dominators.Node, maxTypes int) []TypeCount {
	parts := 1
	if len(nodes) >= 1<<16 {
		parts = runtime.GOMAXPROCS(0)
	}
	sums := make([][]TypeCount, parts)
	var wg faultgroup.Group // the arrays may be a saved file's mapping
	for p := range parts {
		lo, hi := len(nodes)*p/parts, len(nodes)*(p+1)/parts
		wg.Go(func() { sums[p] = sumTypes(tree, typeOf, nodes[lo:hi]) })
	}
	wg.Wait()
	out := sums[0]
	index := map[uint32]int{}
	for i, tc := range out {
		index[tc.Type] = i
	}
	for _, part := range sums[1:] {
		for _, tc := range part {
			i, ok := index[tc.Type]
			if !ok {
				index[tc.Type] = len(out)
				out = append(out, tc)
				continue
			}
			out[i].Count += tc.Count
			out[i].Retained += tc.Retained
		}
	}
	slices.SortStableFunc(out, func(a, b TypeCount) int {
		if a.Retained != b.Retained {
			if a.Retained > b.Retained {
				return -1
			}
			return 1
		}
		return b.Count - a.Count
	})
	if len(out) > maxTypes {
		out = out[:maxTypes]
	}
	return out
}

// sumTypes counts nodes and sums what they retain per type, the types in
// the order of their first node.
func sumTypes(tree *dominators.Tree, typeOf []uint32, nodes []dominators.Node) []TypeCount {
	index := map[uint32]int{}
	var out []TypeCount
	lastType, last := ^uint32(0), -1 // neighbours are mostly of one type
	for _, u := range nodes {
		t := typeOf[u]
		i := last
		if t != lastType {
			var ok bool
			if i, ok = index[t]; !ok {
				i = len(out)
				index[t] = i
				out = append(out, TypeCount{Type: t})
			}
			lastType, last = t, i
		}
		out[i].Count++
		out[i].Retained += tree.Retained(u)
	}
	return out
}
