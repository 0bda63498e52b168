package layout

// StdSpecs lists the standard library's C types that pycoroner walks
// precisely. Names are tp_name as each version spells it; a struct that a
// version lacks is simply not in that version's table.
var StdSpecs = []StdSpec{
	// _collections
	{Names: []string{"collections.deque"}, Struct: "dequeobject", Special: "deque",
		Fields: []string{"leftblock", "leftindex", "rightindex", "maxlen", "BLOCK:data", "BLOCK:rightlink"}, Sizes: []string{"BLOCK"}},
	{Names: []string{"_collections._deque_iterator", "_collections._deque_reverse_iterator", "collections._deque_iterator", "collections._deque_reverse_iterator"}, Struct: "dequeiterobject"},
	{Names: []string{"collections.defaultdict"}, Struct: "defdictobject"},
	{Names: []string{"_collections._tuplegetter", "collections._tuplegetter"}, Struct: "_tuplegetterobject"},
	// C OrderedDict (Objects/odictobject.c): its dict part holds keys and
	// values; the nodes only repeat the keys.
	{Names: []string{"collections.OrderedDict"}, Struct: "_odictobject|PyODictObject", Special: "odict",
		Fields: []string{"od_first", "od_fast_nodes_size", "_odictnode:key", "_odictnode:next"}, Sizes: []string{"_odictnode"}},
	{Names: []string{"odict_iterator", "odict_keyiterator", "odict_valueiterator", "odict_itemiterator"}, Struct: "odictiterobject"},
	{Names: []string{"dict_keys", "dict_values", "dict_items", "odict_keys", "odict_values", "odict_items"}, Struct: "_PyDictViewObject"},
	{Names: []string{"dict_keyiterator", "dict_valueiterator", "dict_itemiterator", "dict_reversekeyiterator", "dict_reversevalueiterator", "dict_reverseitemiterator"}, Struct: "dictiterobject"},
	// _functools
	// 3.14+: placeholder borrows the module's Placeholder singleton
	{Names: []string{"functools.partial"}, Struct: "partialobject", Skip: []string{"placeholder"}},
	{Names: []string{"functools._lru_cache_wrapper"}, Struct: "lru_cache_object", Special: "lru",
		Fields: []string{"root.next", "lru_list_elem:next", "lru_list_elem:key", "lru_list_elem:result"}},
	{Names: []string{"functools._lru_list_elem"}, Struct: "lru_list_elem", Skip: []string{"prev", "next"}},
	{Names: []string{"functools.KeyWrapper"}, Struct: "keyobject"},
	// itertools
	{Names: []string{"itertools.count"}, Struct: "countobject"},
	{Names: []string{"itertools.cycle"}, Struct: "cycleobject"},
	{Names: []string{"itertools.chain"}, Struct: "chainobject"},
	{Names: []string{"itertools.islice"}, Struct: "isliceobject"},
	{Names: []string{"itertools.repeat"}, Struct: "repeatobject"},
	{Names: []string{"itertools.groupby"}, Struct: "groupbyobject"},
	{Names: []string{"itertools._grouper"}, Struct: "_grouperobject"},
	{Names: []string{"itertools._tee"}, Struct: "teeobject"},
	{Names: []string{"itertools._tee_dataobject"}, Struct: "teedataobject", Special: "teedata",
		Fields: []string{"numread", "values"}},
	{Names: []string{"itertools.product"}, Struct: "productobject"},
	{Names: []string{"itertools.permutations"}, Struct: "permutationsobject"},
	{Names: []string{"itertools.combinations"}, Struct: "combinationsobject"},
	{Names: []string{"itertools.combinations_with_replacement"}, Struct: "cwrobject"},
	{Names: []string{"itertools.accumulate"}, Struct: "accumulateobject"},
	{Names: []string{"itertools.starmap"}, Struct: "starmapobject"},
	{Names: []string{"itertools.takewhile"}, Struct: "takewhileobject"},
	{Names: []string{"itertools.dropwhile"}, Struct: "dropwhileobject"},
	{Names: []string{"itertools.filterfalse"}, Struct: "filterfalseobject"},
	{Names: []string{"itertools.compress"}, Struct: "compressobject"},
	{Names: []string{"itertools.zip_longest"}, Struct: "ziplongestobject"},
	{Names: []string{"itertools.pairwise"}, Struct: "pairwiseobject"},
	{Names: []string{"itertools.batched"}, Struct: "batchedobject"},
	// operator
	{Names: []string{"operator.itemgetter"}, Struct: "itemgetterobject"},
	{Names: []string{"operator.attrgetter"}, Struct: "attrgetterobject"},
	{Names: []string{"operator.methodcaller"}, Struct: "methodcallerobject"},
	// contextvars and their HAMT (Python/context.c, Python/hamt.c)
	{Names: []string{"Context", "_contextvars.Context"}, Struct: "PyContext|_pycontextobject"},
	{Names: []string{"ContextVar", "_contextvars.ContextVar"}, Struct: "PyContextVar|_pycontextvarobject", Skip: []string{"var_cached"}},
	{Names: []string{"Token", "_contextvars.Token"}, Struct: "PyContextToken|_pycontexttokenobject"},
	{Names: []string{"hamt"}, Struct: "PyHamtObject"},
	{Names: []string{"hamt_bitmap_node"}, Struct: "PyHamtNode_Bitmap", Special: "varitems", Fields: []string{"b_array"}},
	{Names: []string{"hamt_collision_node"}, Struct: "PyHamtNode_Collision", Special: "varitems", Fields: []string{"c_array"}},
	{Names: []string{"hamt_array_node"}, Struct: "PyHamtNode_Array", Special: "hamtarray", Fields: []string{"a_array"}, Sizes: []string{"PyHamtNode_Array"}},
	// _asyncio
	// the state and cancel request fields serve the reprs (repr_async.go)
	{Names: []string{"_asyncio.Future"}, Struct: "FutureObj", Module: "_asyncio", Fields: []string{"fut_state"}},
	{Names: []string{"_asyncio.Task"}, Struct: "TaskObj", Module: "_asyncio",
		Fields: []string{"task_state", "task_must_cancel", "task_num_cancels_requested"}},
	{Names: []string{"_asyncio.FutureIter"}, Struct: "futureiterobject", Module: "_asyncio"},
	{Names: []string{"TaskStepMethWrapper", "_asyncio.TaskStepMethWrapper"}, Struct: "TaskStepMethWrapper", Module: "_asyncio"},
	// _io
	{Names: []string{"_io.BufferedReader", "_io.BufferedWriter", "_io.BufferedRandom"}, Struct: "buffered"},
	{Names: []string{"_io.BufferedRWPair"}, Struct: "rwpair"},
	{Names: []string{"_io.TextIOWrapper"}, Struct: "textio"},
	{Names: []string{"_io.FileIO"}, Struct: "fileio"},
	{Names: []string{"_io.BytesIO"}, Struct: "bytesio", Special: "bytesio", Fields: []string{"buf"}},
	{Names: []string{"_io.StringIO"}, Struct: "stringio"},
	{Names: []string{"_io.IncrementalNewlineDecoder"}, Struct: "nldecoder_object"},
	// _elementtree: text and tail carry the JOIN flag in bit 0
	{Names: []string{"xml.etree.ElementTree.Element"}, Struct: "ElementObject", Module: "_elementtree", Special: "element",
		Tagged: []string{"text", "tail"},
		Fields: []string{"extra", "ElementObjectExtra:length", "ElementObjectExtra:allocated", "ElementObjectExtra:attrib", "ElementObjectExtra:children", "ElementObjectExtra:_children"},
		Sizes:  []string{"ElementObjectExtra"}},
	// _sqlite3
	{Names: []string{"sqlite3.Connection"}, Struct: "pysqlite_Connection", Module: "_sqlite3"},
	{Names: []string{"sqlite3.Cursor"}, Struct: "pysqlite_Cursor", Module: "_sqlite3"},
	{Names: []string{"sqlite3.Row"}, Struct: "pysqlite_Row", Module: "_sqlite3"},
	{Names: []string{"sqlite3.Statement"}, Struct: "pysqlite_Statement", Module: "_sqlite3"},
	// the statement cache before 3.11: a dict and a linked list of nodes,
	// which cache_traverse visits from first; its factory is the
	// connection, borrowed (decref_factory is 0 for a connection's cache)
	{Names: []string{"sqlite3.Cache"}, Struct: "pysqlite_Cache", Module: "_sqlite3", Special: "sqlitecache",
		Fields: []string{"first", "pysqlite_Node:next"}, Skip: []string{"first", "last", "factory"}},
	{Names: []string{"sqlite3.Node", "sqlite3Node"}, Struct: "pysqlite_Node", Module: "_sqlite3", Skip: []string{"prev", "next"}},
	// _thread: the local object and the per-thread dummies holding each
	// thread's dict
	{Names: []string{"_thread._local"}, Struct: "localobject"},
	{Names: []string{"_thread._localdummy"}, Struct: "localdummyobject"},
	{Names: []string{"_thread.lock"}, Struct: "lockobject"},
	{Names: []string{"_thread.RLock"}, Struct: "rlockobject"},
	// _queue
	// a list before 3.13; from 3.13 a ring buffer of items
	{Names: []string{"_queue.SimpleQueue"}, Struct: "simplequeueobject", Module: "_queue", Special: "ringbuf",
		Fields: []string{"buf.get_idx", "buf.items", "buf.items_cap", "buf.num_items"}},
	// array: no references; its size counts the items
	{Names: []string{"array.array"}, Struct: "arrayobject", Module: "array", Special: "array",
		Fields: []string{"allocated", "ob_descr", "arraydescr:itemsize"}},
	// _sre
	{Names: []string{"re.Pattern", "_sre.SRE_Pattern"}, Struct: "PatternObject"},
	{Names: []string{"re.Match", "_sre.SRE_Match"}, Struct: "MatchObject"},
	// more modules' objects that real programs hold many of
	{Names: []string{"_abc._abc_data", "_abc_data"}, Struct: "_abc_data"},
	// bytearray.__sizeof__ counts its allocation (ob_alloc). From 3.15
	// the buffer lies in a bytes object (ob_bytes_object) that nothing
	// else sees: not walked, so that its bytes are counted once, in the
	// bytearray, as sys.getsizeof counts them.
	{Names: []string{"bytearray"}, Struct: "PyByteArrayObject", Special: "bytearray", Fields: []string{"ob_alloc", "ob_bytes_object"}, Skip: []string{"ob_bytes_object"}},
	{Names: []string{"types.UnionType", "typing.Union"}, Struct: "unionobject"}, // typing.Union from 3.14
	{Names: []string{"datetime.timedelta"}, Struct: "PyDateTime_Delta", Module: "_datetime"},
	{Names: []string{"datetime.date"}, Struct: "PyDateTime_Date", Module: "_datetime"},
	{Names: []string{"datetime.timezone"}, Struct: "PyDateTime_TimeZone", Module: "_datetime"},
	// tzinfo exists only when hastzinfo says so (a naive object is
	// allocated without it)
	{Names: []string{"datetime.datetime"}, Struct: "PyDateTime_DateTime", Module: "_datetime", Special: "tzinfo", Skip: []string{"tzinfo"}, Fields: []string{"hastzinfo", "tzinfo"}},
	{Names: []string{"datetime.time"}, Struct: "PyDateTime_Time", Module: "_datetime", Special: "tzinfo", Skip: []string{"tzinfo"}, Fields: []string{"hastzinfo", "tzinfo"}},
	{Names: []string{"_socket.socket"}, Struct: "PySocketSockObject", Module: "_socket"},
	{Names: []string{"PyCapsule"}, Struct: "PyCapsule"},
	{Names: []string{"types.GenericAlias"}, Struct: "gaobject"},
	{Names: []string{"typing.TypeVar"}, Struct: "typevarobject"},
	{Names: []string{"typing.ParamSpec"}, Struct: "paramspecobject"},
	{Names: []string{"typing.TypeVarTuple"}, Struct: "typevartupleobject"},
	{Names: []string{"typing.TypeAliasType"}, Struct: "typealiasobject"},
	{Names: []string{"_struct.Struct", "Struct"}, Struct: "PyStructObject", Module: "_struct"},
	{Names: []string{"_json.Scanner"}, Struct: "PyScannerObject", Module: "_json"},
	{Names: []string{"_json.Encoder"}, Struct: "PyEncoderObject", Module: "_json"},
	{Names: []string{"_random.Random"}, Struct: "RandomObject", Module: "_random"},
	{Names: []string{"_io._IOBase", "_io._RawIOBase"}, Struct: "iobase"},
	{Names: []string{"_sre.SRE_Scanner"}, Struct: "ScannerObject"},
	{Names: []string{"_hashlib.HASH"}, Struct: "EVPobject|HASHobject", Module: "_hashlib"}, // HASHobject from 3.15
	{Names: []string{"select.epoll"}, Struct: "pyEpoll_Object", Module: "select"},
	{Names: []string{"_pickle.Pickler"}, Struct: "PicklerObject", Module: "_pickle"},
	{Names: []string{"_pickle.Unpickler"}, Struct: "UnpicklerObject", Module: "_pickle"},
	{Names: []string{"_multibytecodec.MultibyteCodec"}, Struct: "MultibyteCodecObject", Module: "_multibytecodec"},
	{Names: []string{"zlib.Compress", "zlib.Decompress"}, Struct: "compobject", Module: "zlib"},
	{Names: []string{"_ssl._SSLContext"}, Struct: "PySSLContext", Module: "_ssl"},
	{Names: []string{"_ssl._SSLSocket"}, Struct: "PySSLSocket", Module: "_ssl"},
	{Names: []string{"pyexpat.xmlparser"}, Struct: "xmlparseobject", Module: "pyexpat"},
	{Names: []string{"_elementtree.XMLParser"}, Struct: "XMLParserObject", Module: "_elementtree"},
	{Names: []string{"_elementtree.TreeBuilder"}, Struct: "TreeBuilderObject", Module: "_elementtree"},
	// objects of the core
	// weak references: only the callback is a strong reference (for the
	// subclasses, KeyedRef and WeakMethod; weakref itself has its walker)
	{Names: []string{"weakref", "weakref.ReferenceType"}, Struct: "_PyWeakReference", Skip: []string{"wr_object", "wr_prev", "wr_next"}},
	{Names: []string{"StgDict", "_ctypes.StgDict"}, Struct: "StgDictObject", Module: "_ctypes"},
	{Names: []string{"function"}, Struct: "PyFunctionObject"},
	// what a 3.11+ generator's size counts: its frame's slots
	{Names: []string{"code"}, Struct: "PyCodeObject", Fields: []string{"co_stacksize", "co_nlocalsplus"}},
	// where a static type's fields are named (struct sequences' reprs)
	{Names: []string{"type"}, Struct: "_typeobject", Fields: []string{"tp_members"}, Sizes: []string{"PyMemberDef"}},
	{Names: []string{"module"}, Struct: "PyModuleObject", Special: "module", Fields: []string{"md_def", "md_state", "PyModuleDef:m_size"}},
	{Names: []string{"builtin_method"}, Struct: "PyCMethodObject"},
	{Names: []string{"mappingproxy"}, Struct: "mappingproxyobject"},
	{Names: []string{"property"}, Struct: "propertyobject"},
	{Names: []string{"staticmethod"}, Struct: "staticmethod"},
	{Names: []string{"classmethod"}, Struct: "classmethod"},
	{Names: []string{"method-wrapper"}, Struct: "wrapperobject"},
	{Names: []string{"slice"}, Struct: "PySliceObject"},
	{Names: []string{"range"}, Struct: "rangeobject"},
	{Names: []string{"range_iterator"}, Struct: "_PyRangeIterObject|rangeiterobject"},
	{Names: []string{"longrange_iterator"}, Struct: "longrangeiterobject"},
	{Names: []string{"enumerate"}, Struct: "enumobject"},
	{Names: []string{"zip"}, Struct: "zipobject"},
	{Names: []string{"map"}, Struct: "mapobject"},
	{Names: []string{"filter"}, Struct: "filterobject"},
	{Names: []string{"reversed"}, Struct: "reversedobject"},
	{Names: []string{"list_iterator"}, Struct: "_PyListIterObject|listiterobject"},
	{Names: []string{"list_reverseiterator"}, Struct: "listreviterobject"},
	{Names: []string{"tuple_iterator"}, Struct: "_PyTupleIterObject|tupleiterobject"},
	{Names: []string{"iterator"}, Struct: "seqiterobject"},
	{Names: []string{"callable_iterator"}, Struct: "calliterobject"},
	{Names: []string{"memoryview"}, Struct: "PyMemoryViewObject"},
	{Names: []string{"managedbuffer"}, Struct: "_PyManagedBufferObject", Extra: []string{"master.obj"}},
	// modules' C state, named "module NAME": walked precisely instead of
	// scanned when the state's size is the struct's. _asyncio's (3.12-3.13)
	// heads a free list of FutureIter objects linked through their future
	// member, which its m_traverse visits; cached_running_loop is borrowed.
	{Names: []string{"module _asyncio"}, Struct: "asyncio_state", Module: "_asyncio", Special: "fi_freelist",
		Fields: []string{"fi_freelist", "fi_freelist_len", "futureiterobject:future"}, Skip: []string{"fi_freelist", "cached_running_loop"}},
	// _decimal's (3.13+) points to two C arrays of conditions, each entry
	// holding its exception class, up to an entry without a name.
	{Names: []string{"module _decimal"}, Struct: "decimal_state", Module: "_decimal", Special: "deccondmap",
		Fields: []string{"signal_map", "cond_map", "DecCondMap:name", "DecCondMap:ex"}, Sizes: []string{"DecCondMap"}},
}
