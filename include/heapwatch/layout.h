/* layout.h - where a CPython build keeps what the census reads.
 *
 * CPython versions are data: every byte offset the walker and the type
 * namer use is one field of struct hw_offsets, listed once in
 * HW_OFFSET_FIELDS.  That one list generates the struct, the table of
 * field names (for printing, comparing sources and the DWARF fill) and
 * the built-in per-version tables' format.  A field a build does not have
 * holds HW_NOFIELD (-1); the walker chooses its path from which fields
 * are present (for example rt_gc >= 0 means one process-wide GC state,
 * as in 3.7 and 3.8), never from version numbers.
 *
 * Sources, in order of preference (enum hw_layout_source): DWARF debug
 * info, CPython's own _Py_DebugOffsets (3.13+), built-in tables keyed by
 * the target's version, and a signature scan for the list heads.
 */
#ifndef HEAPWATCH_LAYOUT_H
#define HEAPWATCH_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "heapwatch/err.h"

#define HW_NOFIELD ((int64_t)-1)

/* X(field, description).  Offsets are bytes from the start of the named
 * struct; sizes are sizeof.  "(27)" marks Python 2.7 only fields. */
#define HW_OFFSET_FIELDS(X)                                                   \
	/* runtime and interpreter state */                                  \
	X(rt_interp_head,  "_PyRuntimeState.interpreters.head")              \
	X(rt_gc,           "_PyRuntimeState.gc (3.7, 3.8: one GC state)")    \
	X(interp_next,     "PyInterpreterState.next")                        \
	X(interp_gc,       "PyInterpreterState.gc (3.9+)")                   \
	X(interp_modules,  "PyInterpreterState.modules (imports.modules 3.12+)") \
	/* struct _gc_runtime_state */                                       \
	X(gc_gens,         "_gc_runtime_state.generations (or .young)")      \
	X(gc_gen_stride,   "sizeof(struct gc_generation)")                  \
	X(gc_gen_threshold,"gc_generation.threshold")                       \
	X(gc_permanent,    "_gc_runtime_state.permanent_generation")        \
	X(gc_collecting,   "_gc_runtime_state.collecting")                  \
	X(gc_generation0,  "_gc_runtime_state.generation0")                 \
	X(gc_size,         "sizeof(struct _gc_runtime_state)")              \
	/* PyGC_Head */                                                      \
	X(gchead_size,     "sizeof(PyGC_Head)")                             \
	X(gchead_next,     "PyGC_Head._gc_next (gc.gc_next before 3.8)")    \
	X(gchead_prev,     "PyGC_Head._gc_prev (gc.gc_prev before 3.8)")    \
	X(gchead_refs,     "PyGC_Head.gc.gc_refs (before 3.8)")             \
	/* objects and types */                                              \
	X(ob_type,         "PyObject.ob_type")                               \
	X(tp_name,         "PyTypeObject.tp_name")                           \
	X(tp_flags,        "PyTypeObject.tp_flags")                          \
	X(tp_dict,         "PyTypeObject.tp_dict")                           \
	X(ht_name,         "PyHeapTypeObject.ht_name")                       \
	X(ht_qualname,     "PyHeapTypeObject.ht_qualname (3.3+)")            \
	/* str (3.x: PEP 393 unicode) */                                     \
	X(str_length,      "PyASCIIObject.length")                           \
	X(str_state,       "PyASCIIObject.state")                            \
	X(str_ascii_size,  "sizeof(PyASCIIObject)")                          \
	X(str_compact_size,"sizeof(PyCompactUnicodeObject)")                 \
	/* str (27: PyStringObject) */                                       \
	X(bytes_size,      "PyStringObject.ob_size (27)")                    \
	X(bytes_sval,      "PyStringObject.ob_sval (27)")                    \
	/* dict, to read a type's __module__ */                              \
	X(dict_keys,       "PyDictObject.ma_keys (ma_table in 27)")          \
	X(dict_mask,       "PyDictObject.ma_mask (27)")                      \
	X(dk_size,         "PyDictKeysObject.dk_size (3.6-3.10)")            \
	X(dk_log2_size,    "PyDictKeysObject.dk_log2_size (3.11+)")          \
	X(dk_log2_index_bytes, "PyDictKeysObject.dk_log2_index_bytes (3.11+)") \
	X(dk_kind,         "PyDictKeysObject.dk_kind (3.11+)")               \
	X(dk_nentries,     "PyDictKeysObject.dk_nentries")                   \
	X(dk_indices,      "PyDictKeysObject.dk_indices")                    \
	X(dk_entry_size,   "sizeof(PyDictKeyEntry) (PyDictEntry in 27)")                         \
	X(dk_uentry_size,  "sizeof(PyDictUnicodeEntry) (3.11+)")              \
	/* --- the object model (objects.h): referents and sizes --- */      \
	X(ob_size,         "PyVarObject.ob_size")                            \
	X(tp_basicsize,    "PyTypeObject.tp_basicsize")                      \
	X(tp_itemsize,     "PyTypeObject.tp_itemsize")                       \
	X(tp_traverse,     "PyTypeObject.tp_traverse")                       \
	X(tp_dictoffset,   "PyTypeObject.tp_dictoffset")                     \
	X(tp_members,      "PyTypeObject.tp_members")                        \
	X(tp_base,         "PyTypeObject.tp_base")                           \
	X(tp_bases,        "PyTypeObject.tp_bases")                          \
	X(tp_mro,          "PyTypeObject.tp_mro")                            \
	X(tp_cache,        "PyTypeObject.tp_cache")                          \
	X(tp_methods,      "PyTypeObject.tp_methods")                        \
	X(type_size,       "sizeof(PyTypeObject)")                           \
	X(ht_size,         "sizeof(PyHeapTypeObject)")                       \
	X(ht_cached_keys,  "PyHeapTypeObject.ht_cached_keys (3.3+)")         \
	X(ht_module,       "PyHeapTypeObject.ht_module (3.9+)")              \
	X(list_items,      "PyListObject.ob_item")                           \
	X(list_allocated,  "PyListObject.allocated")                         \
	X(tuple_items,     "PyTupleObject.ob_item")                          \
	X(dict_values,     "PyDictObject.ma_values (3.x)")                   \
	X(dk_refcnt,       "PyDictKeysObject.dk_refcnt")                     \
	X(dk_usable,       "PyDictKeysObject.dk_usable")                     \
	X(dk_lookup,       "PyDictKeysObject.dk_lookup (3.6-3.10)")          \
	X(dk_entry_key,    "PyDictKeyEntry.me_key")                          \
	X(dk_entry_value,  "PyDictKeyEntry.me_value")                        \
	X(dk_uentry_key,   "PyDictUnicodeEntry.me_key (3.11+)")              \
	X(dk_uentry_value, "PyDictUnicodeEntry.me_value (3.11+)")            \
	X(dv_values,       "_dictvalues.values (3.11+)")                     \
	X(dv_capacity,     "_dictvalues.capacity (3.13+)")                   \
	X(dv_embedded,     "_dictvalues.embedded (3.13+)")                   \
	X(dv_valid,        "_dictvalues.valid (3.13+)")                      \
	X(set_mask,        "PySetObject.mask")                               \
	X(set_table,       "PySetObject.table")                              \
	X(set_smalltable,  "PySetObject.smalltable")                         \
	X(setentry_size,   "sizeof(setentry)")                               \
	X(setentry_key,    "setentry.key")                                   \
	X(memberdef_size,  "sizeof(PyMemberDef)")                            \
	X(memberdef_name,  "PyMemberDef.name")                               \
	X(memberdef_type,  "PyMemberDef.type")                               \
	X(memberdef_offset,"PyMemberDef.offset")                             \
	X(func_code,       "PyFunctionObject.func_code")                     \
	X(func_globals,    "PyFunctionObject.func_globals")                  \
	X(func_builtins,   "PyFunctionObject.func_builtins (3.10+)")         \
	X(func_module,     "PyFunctionObject.func_module")                   \
	X(func_defaults,   "PyFunctionObject.func_defaults")                 \
	X(func_kwdefaults, "PyFunctionObject.func_kwdefaults")               \
	X(func_doc,        "PyFunctionObject.func_doc")                      \
	X(func_name,       "PyFunctionObject.func_name")                     \
	X(func_dict,       "PyFunctionObject.func_dict")                     \
	X(func_closure,    "PyFunctionObject.func_closure")                  \
	X(func_annotations,"PyFunctionObject.func_annotations")              \
	X(func_qualname,   "PyFunctionObject.func_qualname")                 \
	X(func_typeparams, "PyFunctionObject.func_typeparams (3.12+)")       \
	X(func_annotate,   "PyFunctionObject.func_annotate (3.14+)")         \
	X(method_func,     "PyMethodObject.im_func")                         \
	X(method_self,     "PyMethodObject.im_self")                         \
	X(cell_ref,        "PyCellObject.ob_ref")                            \
	X(cm_callable,     "classmethod.cm_callable (staticmethod alike)")   \
	X(cm_dict,         "classmethod.cm_dict")                            \
	X(prop_get,        "propertyobject.prop_get")                        \
	X(prop_set,        "propertyobject.prop_set")                        \
	X(prop_del,        "propertyobject.prop_del")                        \
	X(prop_doc,        "propertyobject.prop_doc")                        \
	X(prop_name,       "propertyobject.prop_name (3.10+)")               \
	X(cfunc_ml,        "PyCFunctionObject.m_ml")                         \
	X(cfunc_self,      "PyCFunctionObject.m_self")                       \
	X(cfunc_module,    "PyCFunctionObject.m_module")                     \
	X(cmeth_class,     "PyCMethodObject.mm_class (3.9+)")                \
	X(methoddef_flags, "PyMethodDef.ml_flags")                           \
	X(methoddef_name,  "PyMethodDef.ml_name")                            \
	X(methoddef_size,  "sizeof(PyMethodDef)")                            \
	X(descr_type,      "PyDescrObject.d_type")                           \
	X(descr_name,      "PyDescrObject.d_name")                           \
	X(wrapper_descr,   "wrapperobject.descr (method-wrapper)")           \
	X(wrapper_self,    "wrapperobject.self")                             \
	X(mappingproxy_mapping, "mappingproxyobject.mapping")                \
	X(mod_dict,        "PyModuleObject.md_dict")                         \
	X(mod_def,         "PyModuleObject.md_def")                          \
	X(mod_state,       "PyModuleObject.md_state")                        \
	X(mod_state_size,  "PyModuleObject.md_state_size (3.15+)")           \
	X(mod_state_traverse, "PyModuleObject.md_state_traverse (3.15+)")    \
	X(moddef_size,     "PyModuleDef.m_size")                             \
	X(moddef_traverse, "PyModuleDef.m_traverse")                         \
	X(exc_dict,        "PyBaseExceptionObject.dict")                     \
	X(exc_args,        "PyBaseExceptionObject.args")                     \
	X(exc_notes,       "PyBaseExceptionObject.notes (3.11+)")            \
	X(exc_traceback,   "PyBaseExceptionObject.traceback")                \
	X(exc_context,     "PyBaseExceptionObject.context")                  \
	X(exc_cause,       "PyBaseExceptionObject.cause")                    \
	X(tb_next,         "PyTracebackObject.tb_next")                      \
	X(tb_frame,        "PyTracebackObject.tb_frame")                     \
	X(wr_callback,     "PyWeakReference.wr_callback")                    \
	X(frame_back,      "PyFrameObject.f_back")                           \
	X(frame_code,      "PyFrameObject.f_code (up to 3.10)")              \
	X(frame_builtins,  "PyFrameObject.f_builtins (up to 3.10)")          \
	X(frame_globals,   "PyFrameObject.f_globals (up to 3.10)")           \
	X(frame_locals,    "PyFrameObject.f_locals (up to 3.10)")            \
	X(frame_valuestack,"PyFrameObject.f_valuestack (up to 3.10)")        \
	X(frame_stacktop,  "PyFrameObject.f_stacktop (up to 3.9)")           \
	X(frame_stackdepth,"PyFrameObject.f_stackdepth (3.10)")              \
	X(frame_trace,     "PyFrameObject.f_trace")                          \
	X(frame_exc_type,  "PyFrameObject.f_exc_type (3.6)")                 \
	X(frame_exc_value, "PyFrameObject.f_exc_value (3.6)")                \
	X(frame_exc_tb,    "PyFrameObject.f_exc_traceback (3.6)")            \
	X(frame_localsplus,"PyFrameObject.f_localsplus (up to 3.10)")        \
	X(frame_size,      "sizeof(PyFrameObject)")                          \
	X(frame_frame,     "PyFrameObject.f_frame (3.11+)")                  \
	X(frame_extra_locals, "PyFrameObject.f_extra_locals (3.13+)")        \
	X(frame_locals_cache, "PyFrameObject.f_locals_cache (3.13+)")        \
	X(frame_overwritten, "PyFrameObject.f_overwritten_fast_locals (3.14+)") \
	X(frame_data,      "PyFrameObject._f_frame_data (3.11+)")            \
	X(iframe_code,     "_PyInterpreterFrame.f_code / f_executable")      \
	X(iframe_func,     "_PyInterpreterFrame.f_func / f_funcobj")         \
	X(iframe_locals,   "_PyInterpreterFrame.f_locals")                   \
	X(iframe_frame_obj,"_PyInterpreterFrame.frame_obj")                  \
	X(iframe_stacktop, "_PyInterpreterFrame.stacktop (3.11-3.13)")       \
	X(iframe_stackpointer, "_PyInterpreterFrame.stackpointer (3.14+)")   \
	X(iframe_owner,    "_PyInterpreterFrame.owner")                      \
	X(iframe_localsplus, "_PyInterpreterFrame.localsplus")               \
	X(gen_frame,       "PyGenObject.gi_frame (up to 3.10)")              \
	X(gen_code,        "PyGenObject.gi_code (up to 3.11)")               \
	X(gen_name,        "PyGenObject.gi_name")                            \
	X(gen_qualname,    "PyGenObject.gi_qualname")                        \
	X(gen_exc_type,    "PyGenObject.gi_exc_state.exc_type (3.7-3.10)")   \
	X(gen_exc_value,   "PyGenObject.gi_exc_state.exc_value (3.7+)")      \
	X(gen_exc_tb,      "PyGenObject.gi_exc_state.exc_traceback (3.7-3.10)") \
	X(gen_frame_state, "PyGenObject.gi_frame_state (3.11+)")             \
	X(gen_iframe,      "PyGenObject.gi_iframe (3.11+)")                  \
	X(agen_finalizer,  "PyAsyncGenObject.ag_finalizer / ag_origin_or_finalizer") \
	X(code_nlocals,    "PyCodeObject.co_nlocals")                        \
	X(code_stacksize,  "PyCodeObject.co_stacksize")                      \
	X(code_nlocalsplus,"PyCodeObject.co_nlocalsplus (3.11+)")            \
	X(code_framesize,  "PyCodeObject.co_framesize (3.11+)")              \
	X(code_varnames,   "PyCodeObject.co_varnames (up to 3.10)")          \
	X(code_cellvars,   "PyCodeObject.co_cellvars (up to 3.10)")          \
	X(code_freevars,   "PyCodeObject.co_freevars (up to 3.10)")          \
	X(code_localsplusnames, "PyCodeObject.co_localsplusnames (3.11+)")   \
	X(code_name,       "PyCodeObject.co_name")                           \
	X(code_extra,      "PyCodeObject.co_extra")                          \
	X(long_digits,     "PyLongObject.ob_digit (long_value.ob_digit 3.12+)") \
	X(long_tag,        "PyLongObject.long_value.lv_tag (3.12+)")         \
	X(bytearray_alloc, "PyByteArrayObject.ob_alloc")                     \
	X(str_wstr,        "PyASCIIObject.wstr (up to 3.11)")                \
	X(str_utf8_length, "PyCompactUnicodeObject.utf8_length")             \
	X(str_utf8,        "PyCompactUnicodeObject.utf8")                    \
	X(str_wstr_length, "PyCompactUnicodeObject.wstr_length (up to 3.11)") \
	X(str_data,        "PyUnicodeObject.data")                           \
	X(str_size,        "sizeof(PyUnicodeObject)")                        \
	/* roots of the referrer graph (refs.c): interpreter-held objects */ \
	X(interp_modules_by_index, "PyInterpreterState.modules_by_index")    \
	X(interp_sysdict,  "PyInterpreterState.sysdict")                     \
	X(interp_builtins, "PyInterpreterState.builtins")                    \
	X(interp_builtins_copy, "PyInterpreterState.builtins_copy")          \
	X(interp_dict,     "PyInterpreterState.dict")                        \
	X(interp_importlib,"PyInterpreterState.importlib")                   \
	X(interp_import_func, "PyInterpreterState.import_func")              \
	X(interp_codec_search_path, "PyInterpreterState.codec_search_path")  \
	X(interp_codec_search_cache, "PyInterpreterState.codec_search_cache") \
	X(interp_codec_error_registry, "PyInterpreterState.codec_error_registry") \
	X(interp_before_forkers, "PyInterpreterState.before_forkers")        \
	X(interp_after_forkers_parent, "PyInterpreterState.after_forkers_parent") \
	X(interp_after_forkers_child, "PyInterpreterState.after_forkers_child") \
	X(interp_audit_hooks, "PyInterpreterState.audit_hooks")              \
	/* static types' dicts kept by the interpreter (3.12+) */            \
	X(interp_static_types, "PyInterpreterState.types.builtins[] (3.12+)") \
	X(interp_static_types_n, "PyInterpreterState.types: builtins initialised") \
	X(interp_ext_types, "PyInterpreterState.types.for_extensions[] (3.13+)") \
	X(interp_ext_types_n, "PyInterpreterState.types: extension types initialised") \
	X(static_state_size, "sizeof(static_builtin_state / managed_static_type_state)") \
	X(static_state_type, "static_builtin_state.type")                    \
	X(static_state_dict, "static_builtin_state.tp_dict")                 \
	/* threads and their frames */                                       \
	X(interp_threads,  "PyInterpreterState.tstate_head (threads.head 3.11+)") \
	X(ts_next,         "PyThreadState.next")                             \
	X(ts_thread_id,    "PyThreadState.thread_id")                        \
	X(ts_frame,        "PyThreadState.frame (PyFrameObject *, to 3.10)") \
	X(ts_cframe,       "PyThreadState.cframe (3.11, 3.12)")              \
	X(cframe_current_frame, "_PyCFrame.current_frame (3.11, 3.12)")      \
	X(ts_current_frame,"PyThreadState.current_frame (3.13+)")            \
	X(ts_dict,         "PyThreadState.dict")                             \
	X(ts_async_exc,    "PyThreadState.async_exc")                        \
	X(ts_curexc_type,  "PyThreadState.curexc_type (to 3.11)")            \
	X(ts_curexc_value, "PyThreadState.curexc_value (to 3.11)")           \
	X(ts_curexc_tb,    "PyThreadState.curexc_traceback (to 3.11)")       \
	X(ts_current_exception, "PyThreadState.current_exception (3.12+)")   \
	X(ts_exc_info,     "PyThreadState.exc_info (3.7+)")                  \
	X(excitem_type,    "_PyErr_StackItem.exc_type (3.7-3.10)")           \
	X(excitem_value,   "_PyErr_StackItem.exc_value")                     \
	X(excitem_tb,      "_PyErr_StackItem.exc_traceback (3.7-3.10)")      \
	X(excitem_previous,"_PyErr_StackItem.previous_item")                 \
	X(ts_context,      "PyThreadState.context (3.7+)")                   \
	X(ts_async_gen_firstiter, "PyThreadState.async_gen_firstiter")       \
	X(ts_async_gen_finalizer, "PyThreadState.async_gen_finalizer")       \
	X(iframe_previous, "_PyInterpreterFrame.previous (3.11+)")           \
	X(iframe_globals,  "_PyInterpreterFrame.f_globals (3.11+)")          \
	X(stackref_size,   "sizeof(_PyStackRef) (3.14+: tagged frame slots)") \
	/* code objects: names of a frame's locals */                        \
	X(code_qualname,   "PyCodeObject.co_qualname (3.11+)")               \
	/* tuples, modules */                                                \
	X(moduledef_copy,  "PyModuleDef.m_base.m_copy (3.x)")               \
	/* C types the object model hand-codes */                            \
	X(slice_start,     "PySliceObject.start")                            \
	X(slice_stop,      "PySliceObject.stop")                             \
	X(slice_step,      "PySliceObject.step")                             \
	X(ns_dict,         "_PyNamespaceObject.ns_dict (SimpleNamespace)")   \
	X(odict_first,     "PyODictObject.od_first")                         \
	X(odict_inst_dict, "PyODictObject.od_inst_dict")                     \
	X(odictnode_key,   "_ODictNode.key")                                 \
	X(odictnode_next,  "_ODictNode.next")                                \
	X(defdict_factory, "defdictobject.default_factory")                  \
	X(partial_fn,      "partialobject.fn")                               \
	X(partial_args,    "partialobject.args")                             \
	X(partial_kw,      "partialobject.kw")                               \
	X(partial_dict,    "partialobject.dict")                             \
	X(deque_leftblock, "dequeobject.leftblock")                          \
	X(deque_rightblock,"dequeobject.rightblock")                         \
	X(deque_leftindex, "dequeobject.leftindex")                          \
	X(deque_rightindex,"dequeobject.rightindex")                         \
	X(block_data,      "block.data (deque)")                             \
	X(block_rightlink, "block.rightlink (deque)")                        \
	/* Python 2.7 only: the dict table, old-style classes, int */       \
	X(dict_smalltable, "PyDictObject.ma_smalltable (27)")                \
	X(exc_message,     "PyBaseExceptionObject.message (27)")             \
	X(method_class,    "PyMethodObject.im_class (27)")                   \
	X(class_bases,     "PyClassObject.cl_bases (27)")                    \
	X(class_dict,      "PyClassObject.cl_dict (27)")                     \
	X(class_name,      "PyClassObject.cl_name (27)")                     \
	X(class_getattr,   "PyClassObject.cl_getattr (27)")                  \
	X(class_setattr,   "PyClassObject.cl_setattr (27)")                  \
	X(class_delattr,   "PyClassObject.cl_delattr (27)")                  \
	X(inst_class,      "PyInstanceObject.in_class (27)")                 \
	X(inst_dict,       "PyInstanceObject.in_dict (27)")                  \
	X(int_ival,        "PyIntObject.ob_ival (27)")

struct hw_offsets {
#define HW_OFFSET_MEMBER(name, desc) int64_t name;
	HW_OFFSET_FIELDS(HW_OFFSET_MEMBER)
#undef HW_OFFSET_MEMBER
};

/* One row per field of struct hw_offsets, in declaration order. */
struct hw_offset_field {
	const char *name;
	const char *desc;
	size_t off; /* offsetof(struct hw_offsets, name) */
};
extern const struct hw_offset_field hw_offset_fields[];
extern const size_t hw_offset_nfields;

/* Every field set to HW_NOFIELD. */
void hw_offsets_init(struct hw_offsets *o);
/* Field value by row index (0 <= i < hw_offset_nfields). */
int64_t hw_offsets_get(const struct hw_offsets *o, size_t i);
void hw_offsets_set(struct hw_offsets *o, size_t i, int64_t v);

/* Whatever its source, a layout is untrusted until this passes: every
 * field absent (HW_NOFIELD) or an offset/size from 0 to HW_FIELD_MAX - 1,
 * and every field that indexes a fixed buffer of heapwatch's within it
 * (PyGC_Head links within gchead_size, the object header the walker
 * reads in one 128-byte piece, the GC state's fields within gc_size,
 * dict and set entries within the buffers that hold them).  Presence is
 * not checked: each user asks for the fields it needs.  0, or -1 with
 * HW_ELAYOUT naming the field and both values ("gchead_refs 200 outside
 * PyGC_Head (32 bytes)"); the caller names the source. */
#define HW_FIELD_MAX ((int64_t)1 << 24)
int hw_offsets_validate(const struct hw_offsets *o, struct hw_err *e);

enum hw_layout_source {
	HW_SRC_NONE = 0,
	HW_SRC_DWARF,         /* debug info of the binary or a debug file */
	HW_SRC_DEBUG_OFFSETS, /* _Py_DebugOffsets (3.13+) + table for the rest */
	HW_SRC_TABLE,         /* built-in table for the target's version */
	HW_SRC_SCAN,          /* table for the rest + signature scan of heads */
};
/* "dwarf", "debug_offsets", "table", "scan", "none". */
const char *hw_layout_source_name(enum hw_layout_source s);
/* Parse those names; returns 0, or -1 if unknown. */
int hw_layout_source_parse(const char *name, enum hw_layout_source *out);


/* ---- choosing a layout for a target ---- */

struct hw_target;

struct hw_layout {
	struct hw_offsets off;
	enum hw_layout_source source;
	char detail[4300];       /* the DWARF file, the table's key, and what
				    was confirmed or found in the target */
	char notes[2048];        /* sources that disagree with the one used
				    or were refused, one per line; "" if none */
	int confirmed;           /* GC lists confirmed in the target's own
				    GC state (0 for 2.7 and 3.6: no state) */
	int names_confirmed;     /* classes whose names were checked */
	int untested;            /* a CPython minor version no table was
				    generated for (newer than heapwatch) */
};

struct hw_mem;

/* Find the layout of t's build, reading the target through m where a
 * source needs its memory (_Py_DebugOffsets, the signature scan): the
 * best source that applies (dwarf, debug_offsets, table, scan), or only
 * `only` when it is not HW_SRC_NONE (to test each source alone).
 *
 * With m, every layout is confirmed against the running target before
 * it is returned (layout.c explains the checks): the GC lists where the
 * target's own generation0 pointer says, list heads that are lists, a
 * few classes whose names read right.  A source that fails is refused
 * (HW_ELAYOUT naming the source, the field and both values) and auto
 * mode goes on to the next.  The chosen layout is compared with the
 * table and _Py_DebugOffsets where they apply; differences and refused
 * sources are written to l->notes ("table: pyenv 3.13.0 ... disagrees
 * with dwarf on 1 field: gc_gens 24, dwarf 20").
 *
 * A 3.x version newer than every table (l->untested) is walked only
 * when _Py_DebugOffsets (read with the newest format it fits) and the
 * run-time checks hold; otherwise HW_EVERSION naming the version and
 * what failed.  HW_EFREETHR for a free-threaded build (it has no GC
 * lists); HW_EVERSION / HW_ELAYOUT when nothing applies, naming what
 * was tried.  Without m nothing is read or confirmed. */
int hw_layout_resolve(const struct hw_target *t, struct hw_mem *m,
		      enum hw_layout_source only, struct hw_layout *l,
		      struct hw_err *e);

/* Built-in tables: the offsets of a known build, keyed by version and
 * build flavour (debug = Py_DEBUG).  Returns 0 and fills *o, or -1 when no
 * table matches (HW_EVERSION).  key gets the row's origin ("pyenv 3.13.0
 * DWARF libpython3.13.so.1.0"). */
int hw_layout_table(uint32_t version_hex, int debug, struct hw_offsets *o,
		    char *key, size_t key_size, struct hw_err *e);

/* Whether a row generated from a real build's DWARF exists for the minor
 * version of version_hex: heapwatch was tested on that minor. */
int hw_layout_table_minor_known(uint32_t version_hex);

/* The rows, for tests that hold them against DWARF: 0 <= i < count. */
struct hw_layout_table_info {
	uint32_t min_hex, max_hex;   /* PY_VERSION_HEX range it claims */
	int debug;                   /* Py_DEBUG builds */
	int verified;                /* generated from a build's DWARF; 0 for
					the few written from headers */
	const char *origin;          /* static string */
	struct hw_offsets off;
};
size_t hw_layout_table_count(void);
/* Returns 0, or -1 when i is out of range. */
int hw_layout_table_row(size_t i, struct hw_layout_table_info *info);

#endif
