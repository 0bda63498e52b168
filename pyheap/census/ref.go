package census

import (
	"fmt"
	"strconv"
)

// RefKind says how an object holds a reference.
type RefKind uint8

const (
	RefUnknown   RefKind = iota // the census saw the edge, labelling did not: "?"
	RefItem                     // an item of a sequence: "item 3" (Index)
	RefKey                      // a dict value, by its key: "key 'CACHE'" (Name: the key's repr)
	RefKeyItself                // a dict key: "key 'CACHE' (the key itself)"
	RefElement                  // a set element: "element"
	RefAttribute                // an instance attribute kept without a dict: "attribute NAME"
	RefSlot                     // a __slots__ member: "attribute NAME (slot)"
	RefField                    // a member of the C struct, by its Python name: "__dict__", "__class__", "f_back", "cell contents"
	RefLocal                    // a frame's local variable: "local NAME"
	RefStack                    // a frame's value stack: "value stack slot 3" (Index)
	RefWord                     // a word found by a conservative scan: "word at +0x18" (Offset)
)

var refKindNames = [...]string{
	RefUnknown: "unknown", RefItem: "item", RefKey: "key", RefKeyItself: "key-itself", RefElement: "element",
	RefAttribute: "attribute", RefSlot: "slot", RefField: "field", RefLocal: "local", RefStack: "stack", RefWord: "word",
}

// String is the kind's name in JSON (`via_kind`, docs/json.md).
func (k RefKind) String() string {
	if int(k) < len(refKindNames) {
		return refKindNames[k]
	}
	return "unknown"
}

// Ref is how an object holds one reference: a kind, and the name, index or
// offset that kind needs. It is built by the model's walkers and read by
// the searches (an owner holds a dict as its field "__dict__") and the
// reports, which show String and the fields beside it.
type Ref struct {
	Kind   RefKind
	Name   string // RefKey, RefKeyItself (the key's repr), RefAttribute, RefSlot, RefField, RefLocal; RefWord: what the word lies in, when not the object itself ("its C state")
	Index  int64  // RefItem, RefStack
	Offset int64  // RefWord: bytes from the start of the object, or of what Name says
}

// String is the label people read, and the `via` of the JSON answers:
// "item 3", "key 'CACHE'", "attribute items", "__dict__", "word at +0x18".
func (r Ref) String() string {
	switch r.Kind {
	case RefItem:
		return "item " + strconv.FormatInt(r.Index, 10)
	case RefKey:
		return "key " + r.Name
	case RefKeyItself:
		return "key " + r.Name + " (the key itself)"
	case RefElement:
		return "element"
	case RefAttribute:
		return "attribute " + r.Name
	case RefSlot:
		return "attribute " + r.Name + " (slot)"
	case RefField:
		return r.Name
	case RefLocal:
		return "local " + r.Name
	case RefStack:
		return "value stack slot " + strconv.FormatInt(r.Index, 10)
	case RefWord:
		if r.Name != "" {
			return fmt.Sprintf("word at +0x%x of %s", r.Offset, r.Name)
		}
		return fmt.Sprintf("word at +0x%x", r.Offset)
	}
	return "?"
}

// IsField reports whether r is the struct member named name.
func (r Ref) IsField(name string) bool { return r.Kind == RefField && r.Name == name }
