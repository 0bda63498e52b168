package pyheap

import "fmt"

// When the file that holds a static type's tp_name string is missing (a
// core analysed without its binaries), types are named from the process's
// own memory instead: builtins maps "int" to the int type, the types
// module maps "CodeType" to the code type, sys.modules' values are modules,
// and frames hold code objects and functions.

// typesModuleNames maps names in the types module to tp_name.
var typesModuleNames = map[string]string{
	"FunctionType": "function", "LambdaType": "function", "CodeType": "code",
	"ModuleType": "module", "CellType": "cell", "FrameType": "frame",
	"NoneType": "NoneType", "MethodType": "method", "BuiltinFunctionType": "builtin_function_or_method",
	"GeneratorType": "generator", "CoroutineType": "coroutine", "TracebackType": "traceback",
	"MappingProxyType": "mappingproxy", "SimpleNamespace": "types.SimpleNamespace",
	"EllipsisType": "ellipsis", "NotImplementedType": "NotImplementedType",
	"WrapperDescriptorType": "wrapper_descriptor", "MethodWrapperType": "method-wrapper",
	"MethodDescriptorType": "method_descriptor", "ClassMethodDescriptorType": "classmethod_descriptor",
	"GetSetDescriptorType": "getset_descriptor", "MemberDescriptorType": "member_descriptor",
}

// fallbackName names a static type whose tp_name cannot be read.
func (r *Runtime) fallbackName(tp uint64) (string, bool) {
	if r.fallback == nil {
		r.fallback = map[uint64]string{}
		r.buildFallbackNames()
	}
	name, ok := r.fallback[tp]
	return name, ok
}

// sealFallbackNames ends lazy lookup of fallback names once a restored
// census has named every type it holds: commands may then read types from
// several goroutines, and building the names later would race. Every type
// name was readable if they were not built by now, so none will be needed.
func (r *Runtime) sealFallbackNames() {
	if r.fallback == nil {
		r.fallback = map[uint64]string{}
	}
}

func (r *Runtime) buildFallbackNames() {
	interps, err := r.Interpreters()
	if err != nil || len(interps) == 0 {
		return
	}
	in := interps[0]
	add := func(tp uint64, name string) {
		if _, seen := r.fallback[tp]; !seen && tp != 0 {
			r.fallback[tp] = name
		}
	}
	typeOfPtr := func(obj uint64) uint64 {
		tp, _ := r.m.ptr(r.L.ObType.Add(obj))
		return tp
	}
	// The keys of dicts we walk here are strs; name str and dict first so
	// that later lookups can classify.
	add(typeOfPtr(in.Modules), "dict")
	if items, _, err := r.DictItems(in.Sysdict, 1); err == nil && len(items) == 1 {
		add(typeOfPtr(items[0].Key), "str")
	}
	r.renameTypes() // name types read before the names were known
	if items, _, err := r.DictItems(in.Builtins, 4096); err == nil {
		for _, it := range items {
			key, err := r.StrValue(it.Key)
			if err != nil {
				continue
			}
			switch key {
			case "None":
				add(typeOfPtr(it.Value), "NoneType")
			case "True":
				add(typeOfPtr(it.Value), "bool")
			case "Ellipsis":
				add(typeOfPtr(it.Value), "ellipsis")
			default:
				if r.isTypeObject(it.Value) {
					add(it.Value, key)
				}
			}
		}
	}
	if items, _, err := r.DictItems(in.Modules, 1); err == nil && len(items) == 1 {
		add(typeOfPtr(items[0].Value), "module")
	}
	if mod, ok := r.DictLookupStr(in.Modules, "types"); ok {
		if md, err := r.m.ptr(r.L.ModuleDict.Add(mod)); err == nil {
			for alias, name := range typesModuleNames {
				if tp, ok := r.DictLookupStr(md, alias); ok && r.isTypeObject(tp) {
					add(tp, name)
				}
			}
		}
	}
	r.renameTypes()
}

// isTypeObject checks by flags alone that obj is a type object.
func (r *Runtime) isTypeObject(obj uint64) bool {
	tp, err := r.m.ptr(r.L.ObType.Add(obj))
	if err != nil || tp == 0 {
		return false
	}
	flags, err := r.m.u64(r.L.TypeFlags.Add(tp))
	return err == nil && r.L.TPFlagsTypeSubclass.In(flags)
}

// noteCodeType records the type of an object that a frame executes as the
// code type, when names come from memory.
func (r *Runtime) noteCodeType(code uint64) {
	if r.fallback == nil {
		return
	}
	tp, err := r.m.ptr(r.L.ObType.Add(code))
	if err != nil {
		return
	}
	if _, ok := r.fallback[tp]; !ok {
		r.fallback[tp] = "code"
		r.renameTypes()
	}
}

func unreadableTypeName(namep uint64) string {
	return fmt.Sprintf("<unreadable type name at 0x%x>", namep)
}
