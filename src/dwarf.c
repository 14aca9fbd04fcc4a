/* dwarf.c - struct offsets from DWARF; see hw_target_dwarf() in target.h.
 *
 * libdwfl reports the interpreter's object offline and finds its DWARF
 * either inside it or in a separate debug file (build-id under
 * /usr/lib/debug/.build-id, or .gnu_debuglink) through
 * dwfl_standard_find_debuginfo.  What to look up is one table, specs[]:
 * per field of struct hw_offsets, alternatives of (type, member path) or
 * a sizeof.  Types are found by name among the top-level DIEs of compile
 * units (and of the partial units they import, for dwz-compressed debug
 * files); member offsets follow dotted paths through nested and anonymous
 * structs and unions.  Results are cached per file: a daemon watching
 * many workers of one build reads the DWARF once.
 */
#include "heapwatch/target.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ==================== what to look up ==================== */

#define MAXALT 3
#define F(name) offsetof(struct hw_offsets, name)

struct alt {
	const char *type;   /* struct/union tag or typedef name */
	const char *path;   /* dotted member path; NULL means sizeof(type) */
};

/* Alternatives are tried in order; the first that resolves wins.  The
 * names come from the CPython headers: 3.7-3.13 name the runtime state
 * "struct pyruntimestate" (typedef _PyRuntimeState); 2.7 and 3.6-3.7
 * keep PyGC_Head's links in the union member "gc"; 3.14.0 renamed
 * generations[] to young.  A "required" field exists in every CPython:
 * when one stays missing after the home CUs, the whole DWARF is scanned. */
static const struct spec {
	size_t off;          /* offsetof(struct hw_offsets, field) */
	bool required;
	struct alt alt[MAXALT];
} specs[] = {
	{ F(rt_interp_head), false, { { "pyruntimestate", "interpreters.head" },
				      { "_PyRuntimeState", "interpreters.head" } } },
	/* 3.7 and 3.8 only: in 3.9+ _PyRuntimeState has no member "gc" (other
	 * structs do, which is why paths start at a named type) */
	{ F(rt_gc), false, { { "pyruntimestate", "gc" }, { "_PyRuntimeState", "gc" } } },
	{ F(interp_next), false, { { "_is", "next" } } },
	{ F(interp_gc), false, { { "_is", "gc" } } },
	{ F(interp_modules), false, { { "_is", "imports.modules" }, { "_is", "modules" } } },
	{ F(gc_gens), false, { { "_gc_runtime_state", "generations" },
			       { "_gc_runtime_state", "young" } } },
	{ F(gc_gen_stride), true, { { "gc_generation", NULL } } },
	{ F(gc_gen_threshold), true, { { "gc_generation", "threshold" } } },
	{ F(gc_permanent), false, { { "_gc_runtime_state", "permanent_generation" } } },
	{ F(gc_collecting), false, { { "_gc_runtime_state", "collecting" } } },
	{ F(gc_generation0), false, { { "_gc_runtime_state", "generation0" } } },
	{ F(gc_size), false, { { "_gc_runtime_state", NULL } } },
	{ F(gchead_size), true, { { "PyGC_Head", NULL } } },
	{ F(gchead_next), true, { { "PyGC_Head", "_gc_next" }, { "PyGC_Head", "gc.gc_next" } } },
	{ F(gchead_prev), true, { { "PyGC_Head", "_gc_prev" }, { "PyGC_Head", "gc.gc_prev" } } },
	{ F(gchead_refs), false, { { "PyGC_Head", "gc.gc_refs" } } },
	{ F(ob_type), true, { { "_object", "ob_type" } } },
	{ F(tp_name), true, { { "_typeobject", "tp_name" } } },
	{ F(tp_flags), true, { { "_typeobject", "tp_flags" } } },
	{ F(tp_dict), true, { { "_typeobject", "tp_dict" } } },
	{ F(ht_name), true, { { "_heaptypeobject", "ht_name" } } },
	{ F(ht_qualname), false, { { "_heaptypeobject", "ht_qualname" } } },
	{ F(str_length), false, { { "PyASCIIObject", "length" } } },
	/* a struct of bitfields: its offset is that of the storage unit */
	{ F(str_state), false, { { "PyASCIIObject", "state" } } },
	{ F(str_ascii_size), false, { { "PyASCIIObject", NULL } } },
	{ F(str_compact_size), false, { { "PyCompactUnicodeObject", NULL } } },
	{ F(bytes_size), false, { { "PyStringObject", "ob_size" } } },
	{ F(bytes_sval), false, { { "PyStringObject", "ob_sval" } } },
	{ F(dict_keys), true, { { "PyDictObject", "ma_keys" }, { "PyDictObject", "ma_table" } } },
	{ F(dict_mask), false, { { "PyDictObject", "ma_mask" } } },
	{ F(dk_size), false, { { "_dictkeysobject", "dk_size" } } },
	{ F(dk_log2_size), false, { { "_dictkeysobject", "dk_log2_size" } } },
	{ F(dk_log2_index_bytes), false, { { "_dictkeysobject", "dk_log2_index_bytes" } } },
	{ F(dk_kind), false, { { "_dictkeysobject", "dk_kind" } } },
	{ F(dk_nentries), false, { { "_dictkeysobject", "dk_nentries" } } },
	/* a flexible array (3.7+) or a union (3.6): where it starts */
	{ F(dk_indices), false, { { "_dictkeysobject", "dk_indices" } } },
	{ F(dk_entry_size), false, { { "PyDictKeyEntry", NULL }, { "PyDictEntry", NULL } } },
	{ F(dk_uentry_size), false, { { "PyDictUnicodeEntry", NULL } } },

	/* The object model (objects.h): referents and sizes.  Names from
	 * the CPython headers of 3.6-3.15; where a member was renamed the
	 * alternatives list every spelling (3.13 f_code -> f_executable). */
	{ F(ob_size), false, { { "PyVarObject", "ob_size" } } },
	{ F(tp_basicsize), false, { { "_typeobject", "tp_basicsize" } } },
	{ F(tp_itemsize), false, { { "_typeobject", "tp_itemsize" } } },
	{ F(tp_traverse), false, { { "_typeobject", "tp_traverse" } } },
	{ F(tp_dictoffset), false, { { "_typeobject", "tp_dictoffset" } } },
	{ F(tp_members), false, { { "_typeobject", "tp_members" } } },
	{ F(tp_base), false, { { "_typeobject", "tp_base" } } },
	{ F(tp_bases), false, { { "_typeobject", "tp_bases" } } },
	{ F(tp_mro), false, { { "_typeobject", "tp_mro" } } },
	{ F(tp_cache), false, { { "_typeobject", "tp_cache" } } },
	{ F(tp_methods), false, { { "_typeobject", "tp_methods" } } },
	{ F(type_size), false, { { "_typeobject", NULL } } },
	{ F(ht_size), false, { { "_heaptypeobject", NULL } } },
	{ F(ht_cached_keys), false, { { "_heaptypeobject", "ht_cached_keys" } } },
	{ F(ht_module), false, { { "_heaptypeobject", "ht_module" } } },
	{ F(list_items), false, { { "PyListObject", "ob_item" } } },
	{ F(list_allocated), false, { { "PyListObject", "allocated" } } },
	{ F(tuple_items), false, { { "PyTupleObject", "ob_item" } } },
	{ F(dict_values), false, { { "PyDictObject", "ma_values" } } },
	{ F(dk_refcnt), false, { { "_dictkeysobject", "dk_refcnt" } } },
	{ F(dk_usable), false, { { "_dictkeysobject", "dk_usable" } } },
	{ F(dk_lookup), false, { { "_dictkeysobject", "dk_lookup" } } },
	{ F(dk_entry_key), false, { { "PyDictKeyEntry", "me_key" },
				    { "PyDictEntry", "me_key" } } },
	{ F(dk_entry_value), false, { { "PyDictKeyEntry", "me_value" },
				      { "PyDictEntry", "me_value" } } },
	{ F(dk_uentry_key), false, { { "PyDictUnicodeEntry", "me_key" } } },
	{ F(dk_uentry_value), false, { { "PyDictUnicodeEntry", "me_value" } } },
	{ F(dv_values), false, { { "_dictvalues", "values" } } },
	{ F(dv_capacity), false, { { "_dictvalues", "capacity" } } },
	{ F(dv_embedded), false, { { "_dictvalues", "embedded" } } },
	{ F(dv_valid), false, { { "_dictvalues", "valid" } } },
	{ F(set_mask), false, { { "PySetObject", "mask" } } },
	{ F(set_table), false, { { "PySetObject", "table" } } },
	{ F(set_smalltable), false, { { "PySetObject", "smalltable" } } },
	{ F(setentry_size), false, { { "setentry", NULL } } },
	{ F(setentry_key), false, { { "setentry", "key" } } },
	{ F(memberdef_size), false, { { "PyMemberDef", NULL } } },
	{ F(memberdef_name), false, { { "PyMemberDef", "name" } } },
	{ F(memberdef_type), false, { { "PyMemberDef", "type" } } },
	{ F(memberdef_offset), false, { { "PyMemberDef", "offset" } } },
	{ F(func_code), false, { { "PyFunctionObject", "func_code" } } },
	{ F(func_globals), false, { { "PyFunctionObject", "func_globals" } } },
	{ F(func_builtins), false, { { "PyFunctionObject", "func_builtins" } } },
	{ F(func_module), false, { { "PyFunctionObject", "func_module" } } },
	{ F(func_defaults), false, { { "PyFunctionObject", "func_defaults" } } },
	{ F(func_kwdefaults), false, { { "PyFunctionObject", "func_kwdefaults" } } },
	{ F(func_doc), false, { { "PyFunctionObject", "func_doc" } } },
	{ F(func_name), false, { { "PyFunctionObject", "func_name" } } },
	{ F(func_dict), false, { { "PyFunctionObject", "func_dict" } } },
	{ F(func_closure), false, { { "PyFunctionObject", "func_closure" } } },
	{ F(func_annotations), false, { { "PyFunctionObject", "func_annotations" } } },
	{ F(func_qualname), false, { { "PyFunctionObject", "func_qualname" } } },
	{ F(func_typeparams), false, { { "PyFunctionObject", "func_typeparams" } } },
	{ F(func_annotate), false, { { "PyFunctionObject", "func_annotate" } } },
	{ F(method_func), false, { { "PyMethodObject", "im_func" } } },
	{ F(method_self), false, { { "PyMethodObject", "im_self" } } },
	{ F(cell_ref), false, { { "PyCellObject", "ob_ref" } } },
	{ F(cm_callable), false, { { "classmethod", "cm_callable" } } },
	{ F(cm_dict), false, { { "classmethod", "cm_dict" } } },
	{ F(prop_get), false, { { "propertyobject", "prop_get" } } },
	{ F(prop_set), false, { { "propertyobject", "prop_set" } } },
	{ F(prop_del), false, { { "propertyobject", "prop_del" } } },
	{ F(prop_doc), false, { { "propertyobject", "prop_doc" } } },
	{ F(prop_name), false, { { "propertyobject", "prop_name" } } },
	{ F(cfunc_ml), false, { { "PyCFunctionObject", "m_ml" } } },
	{ F(cfunc_self), false, { { "PyCFunctionObject", "m_self" } } },
	{ F(cfunc_module), false, { { "PyCFunctionObject", "m_module" } } },
	{ F(cmeth_class), false, { { "PyCMethodObject", "mm_class" } } },
	{ F(methoddef_flags), false, { { "PyMethodDef", "ml_flags" } } },
	{ F(methoddef_name), false, { { "PyMethodDef", "ml_name" } } },
	{ F(methoddef_size), false, { { "PyMethodDef", NULL } } },
	{ F(descr_type), false, { { "PyDescrObject", "d_type" } } },
	{ F(descr_name), false, { { "PyDescrObject", "d_name" } } },
	{ F(wrapper_descr), false, { { "wrapperobject", "descr" } } },
	{ F(wrapper_self), false, { { "wrapperobject", "self" } } },
	{ F(mappingproxy_mapping), false, { { "mappingproxyobject", "mapping" },
					    { "proxyobject", "dict" } } },
	{ F(mod_dict), false, { { "PyModuleObject", "md_dict" } } },
	{ F(mod_def), false, { { "PyModuleObject", "md_def" } } },
	{ F(mod_state), false, { { "PyModuleObject", "md_state" } } },
	{ F(mod_state_size), false, { { "PyModuleObject", "md_state_size" } } },
	{ F(mod_state_traverse), false, { { "PyModuleObject", "md_state_traverse" } } },
	{ F(moddef_size), false, { { "PyModuleDef", "m_size" } } },
	{ F(moddef_traverse), false, { { "PyModuleDef", "m_traverse" } } },
	{ F(exc_dict), false, { { "PyBaseExceptionObject", "dict" } } },
	{ F(exc_args), false, { { "PyBaseExceptionObject", "args" } } },
	{ F(exc_notes), false, { { "PyBaseExceptionObject", "notes" } } },
	{ F(exc_traceback), false, { { "PyBaseExceptionObject", "traceback" } } },
	{ F(exc_context), false, { { "PyBaseExceptionObject", "context" } } },
	{ F(exc_cause), false, { { "PyBaseExceptionObject", "cause" } } },
	{ F(tb_next), false, { { "_traceback", "tb_next" } } },
	{ F(tb_frame), false, { { "_traceback", "tb_frame" } } },
	{ F(wr_callback), false, { { "_PyWeakReference", "wr_callback" } } },
	{ F(frame_back), false, { { "_frame", "f_back" } } },
	{ F(frame_code), false, { { "_frame", "f_code" } } },
	{ F(frame_builtins), false, { { "_frame", "f_builtins" } } },
	{ F(frame_globals), false, { { "_frame", "f_globals" } } },
	{ F(frame_locals), false, { { "_frame", "f_locals" } } },
	{ F(frame_valuestack), false, { { "_frame", "f_valuestack" } } },
	{ F(frame_stacktop), false, { { "_frame", "f_stacktop" } } },
	{ F(frame_stackdepth), false, { { "_frame", "f_stackdepth" } } },
	{ F(frame_trace), false, { { "_frame", "f_trace" } } },
	{ F(frame_exc_type), false, { { "_frame", "f_exc_type" } } },
	{ F(frame_exc_value), false, { { "_frame", "f_exc_value" } } },
	{ F(frame_exc_tb), false, { { "_frame", "f_exc_traceback" } } },
	{ F(frame_localsplus), false, { { "_frame", "f_localsplus" } } },
	{ F(frame_size), false, { { "_frame", NULL } } },
	{ F(frame_frame), false, { { "_frame", "f_frame" } } },
	{ F(frame_extra_locals), false, { { "_frame", "f_extra_locals" } } },
	{ F(frame_locals_cache), false, { { "_frame", "f_locals_cache" } } },
	{ F(frame_overwritten), false, { { "_frame", "f_overwritten_fast_locals" } } },
	{ F(frame_data), false, { { "_frame", "_f_frame_data" } } },
	{ F(iframe_code), false, { { "_PyInterpreterFrame", "f_code" },
				   { "_PyInterpreterFrame", "f_executable" } } },
	{ F(iframe_func), false, { { "_PyInterpreterFrame", "f_func" },
				   { "_PyInterpreterFrame", "f_funcobj" } } },
	{ F(iframe_locals), false, { { "_PyInterpreterFrame", "f_locals" } } },
	{ F(iframe_frame_obj), false, { { "_PyInterpreterFrame", "frame_obj" } } },
	{ F(iframe_stacktop), false, { { "_PyInterpreterFrame", "stacktop" } } },
	{ F(iframe_stackpointer), false, { { "_PyInterpreterFrame", "stackpointer" } } },
	{ F(iframe_owner), false, { { "_PyInterpreterFrame", "owner" } } },
	{ F(iframe_localsplus), false, { { "_PyInterpreterFrame", "localsplus" } } },
	{ F(gen_frame), false, { { "PyGenObject", "gi_frame" } } },
	{ F(gen_code), false, { { "PyGenObject", "gi_code" } } },
	{ F(gen_name), false, { { "PyGenObject", "gi_name" } } },
	{ F(gen_qualname), false, { { "PyGenObject", "gi_qualname" } } },
	{ F(gen_exc_type), false, { { "PyGenObject", "gi_exc_state.exc_type" } } },
	{ F(gen_exc_value), false, { { "PyGenObject", "gi_exc_state.exc_value" } } },
	{ F(gen_exc_tb), false, { { "PyGenObject", "gi_exc_state.exc_traceback" } } },
	{ F(gen_frame_state), false, { { "PyGenObject", "gi_frame_state" } } },
	{ F(gen_iframe), false, { { "PyGenObject", "gi_iframe" } } },
	{ F(agen_finalizer), false, { { "PyAsyncGenObject", "ag_finalizer" },
				      { "PyAsyncGenObject", "ag_origin_or_finalizer" } } },
	{ F(code_nlocals), false, { { "PyCodeObject", "co_nlocals" } } },
	{ F(code_stacksize), false, { { "PyCodeObject", "co_stacksize" } } },
	{ F(code_nlocalsplus), false, { { "PyCodeObject", "co_nlocalsplus" } } },
	{ F(code_framesize), false, { { "PyCodeObject", "co_framesize" } } },
	{ F(code_varnames), false, { { "PyCodeObject", "co_varnames" } } },
	{ F(code_cellvars), false, { { "PyCodeObject", "co_cellvars" } } },
	{ F(code_freevars), false, { { "PyCodeObject", "co_freevars" } } },
	{ F(code_localsplusnames), false, { { "PyCodeObject", "co_localsplusnames" } } },
	{ F(code_name), false, { { "PyCodeObject", "co_name" } } },
	{ F(code_extra), false, { { "PyCodeObject", "co_extra" } } },
	{ F(long_digits), false, { { "_longobject", "ob_digit" },
				   { "_longobject", "long_value.ob_digit" } } },
	{ F(long_tag), false, { { "_longobject", "long_value.lv_tag" } } },
	{ F(bytearray_alloc), false, { { "PyByteArrayObject", "ob_alloc" } } },
	{ F(str_wstr), false, { { "PyASCIIObject", "wstr" } } },
	{ F(str_utf8_length), false, { { "PyCompactUnicodeObject", "utf8_length" } } },
	{ F(str_utf8), false, { { "PyCompactUnicodeObject", "utf8" } } },
	{ F(str_wstr_length), false, { { "PyCompactUnicodeObject", "wstr_length" } } },
	{ F(str_data), false, { { "PyUnicodeObject", "data" } } },
	{ F(str_size), false, { { "PyUnicodeObject", NULL } } },
	/* roots of the referrer graph: 3.12 moved modules and importlib
	 * into interp->imports, 3.13 the codec registry into interp->codecs */
	{ F(interp_modules_by_index), false, { { "_is", "modules_by_index" },
					       { "_is", "imports.modules_by_index" } } },
	{ F(interp_sysdict), false, { { "_is", "sysdict" } } },
	{ F(interp_builtins), false, { { "_is", "builtins" } } },
	{ F(interp_builtins_copy), false, { { "_is", "builtins_copy" } } },
	{ F(interp_dict), false, { { "_is", "dict" } } },
	{ F(interp_importlib), false, { { "_is", "importlib" }, { "_is", "imports.importlib" } } },
	{ F(interp_import_func), false, { { "_is", "import_func" },
					  { "_is", "imports.import_func" } } },
	{ F(interp_codec_search_path), false, { { "_is", "codec_search_path" },
						{ "_is", "codecs.search_path" } } },
	{ F(interp_codec_search_cache), false, { { "_is", "codec_search_cache" },
						 { "_is", "codecs.search_cache" } } },
	{ F(interp_codec_error_registry), false, { { "_is", "codec_error_registry" },
						   { "_is", "codecs.error_registry" } } },
	{ F(interp_before_forkers), false, { { "_is", "before_forkers" } } },
	{ F(interp_after_forkers_parent), false, { { "_is", "after_forkers_parent" } } },
	{ F(interp_after_forkers_child), false, { { "_is", "after_forkers_child" } } },
	{ F(interp_audit_hooks), false, { { "_is", "audit_hooks" } } },
	/* 3.12: types.builtins[] of static_builtin_state; 3.13: managed
	 * static types, builtins and extensions' in two arrays */
	{ F(interp_static_types), false, { { "_is", "types.builtins.initialized" },
					   { "_is", "types.builtins" } } },
	{ F(interp_static_types_n), false, { { "_is", "types.builtins.num_initialized" },
					     { "_is", "types.num_builtins_initialized" } } },
	{ F(interp_ext_types), false, { { "_is", "types.for_extensions.initialized" } } },
	{ F(interp_ext_types_n), false, { { "_is", "types.for_extensions.num_initialized" } } },
	{ F(static_state_size), false, { { "managed_static_type_state", NULL },
					 { "static_builtin_state", NULL } } },
	{ F(static_state_type), false, { { "managed_static_type_state", "type" },
					 { "static_builtin_state", "type" } } },
	{ F(static_state_dict), false, { { "managed_static_type_state", "tp_dict" },
					 { "static_builtin_state", "tp_dict" } } },
	{ F(interp_threads), false, { { "_is", "tstate_head" }, { "_is", "threads.head" } } },
	{ F(ts_next), false, { { "_ts", "next" } } },
	{ F(ts_thread_id), false, { { "_ts", "thread_id" } } },
	{ F(ts_frame), false, { { "_ts", "frame" } } },
	{ F(ts_cframe), false, { { "_ts", "cframe" } } },
	{ F(cframe_current_frame), false, { { "_PyCFrame", "current_frame" } } },
	{ F(ts_current_frame), false, { { "_ts", "current_frame" } } },
	{ F(ts_dict), false, { { "_ts", "dict" } } },
	{ F(ts_async_exc), false, { { "_ts", "async_exc" } } },
	{ F(ts_curexc_type), false, { { "_ts", "curexc_type" } } },
	{ F(ts_curexc_value), false, { { "_ts", "curexc_value" } } },
	{ F(ts_curexc_tb), false, { { "_ts", "curexc_traceback" } } },
	{ F(ts_current_exception), false, { { "_ts", "current_exception" } } },
	{ F(ts_exc_info), false, { { "_ts", "exc_info" } } },
	{ F(excitem_type), false, { { "_err_stackitem", "exc_type" } } },
	{ F(excitem_value), false, { { "_err_stackitem", "exc_value" } } },
	{ F(excitem_tb), false, { { "_err_stackitem", "exc_traceback" } } },
	{ F(excitem_previous), false, { { "_err_stackitem", "previous_item" } } },
	{ F(ts_context), false, { { "_ts", "context" } } },
	{ F(ts_async_gen_firstiter), false, { { "_ts", "async_gen_firstiter" } } },
	{ F(ts_async_gen_finalizer), false, { { "_ts", "async_gen_finalizer" } } },
	{ F(iframe_previous), false, { { "_PyInterpreterFrame", "previous" } } },
	{ F(iframe_globals), false, { { "_PyInterpreterFrame", "f_globals" } } },
	{ F(stackref_size), false, { { "_PyStackRef", NULL } } },
	{ F(code_qualname), false, { { "PyCodeObject", "co_qualname" } } },
	{ F(moduledef_copy), false, { { "PyModuleDef", "m_base.m_copy" } } },
	{ F(slice_start), false, { { "PySliceObject", "start" } } },
	{ F(slice_stop), false, { { "PySliceObject", "stop" } } },
	{ F(slice_step), false, { { "PySliceObject", "step" } } },
	{ F(ns_dict), false, { { "_PyNamespaceObject", "ns_dict" } } },
	{ F(odict_first), false, { { "_odictobject", "od_first" } } },
	{ F(odict_inst_dict), false, { { "_odictobject", "od_inst_dict" } } },
	{ F(odictnode_key), false, { { "_odictnode", "key" } } },
	{ F(odictnode_next), false, { { "_odictnode", "next" } } },
	{ F(defdict_factory), false, { { "defdictobject", "default_factory" } } },
	{ F(partial_fn), false, { { "partialobject", "fn" } } },
	{ F(partial_args), false, { { "partialobject", "args" } } },
	{ F(partial_kw), false, { { "partialobject", "kw" } } },
	{ F(partial_dict), false, { { "partialobject", "dict" } } },
	{ F(deque_leftblock), false, { { "dequeobject", "leftblock" } } },
	{ F(deque_rightblock), false, { { "dequeobject", "rightblock" } } },
	{ F(deque_leftindex), false, { { "dequeobject", "leftindex" } } },
	{ F(deque_rightindex), false, { { "dequeobject", "rightindex" } } },
	{ F(block_data), false, { { "BLOCK", "data" } } },
	{ F(block_rightlink), false, { { "BLOCK", "rightlink" } } },
	/* Python 2.7: PyDictObject's own table (ma_table, ma_mask, entries
	 * PyDictEntry {me_hash, me_key, me_value}), old-style classes and
	 * instances (classobject.h), the message of BaseException, int */
	{ F(dict_smalltable), false, { { "PyDictObject", "ma_smalltable" } } },
	{ F(exc_message), false, { { "PyBaseExceptionObject", "message" } } },
	{ F(method_class), false, { { "PyMethodObject", "im_class" } } },
	{ F(class_bases), false, { { "PyClassObject", "cl_bases" } } },
	{ F(class_dict), false, { { "PyClassObject", "cl_dict" } } },
	{ F(class_name), false, { { "PyClassObject", "cl_name" } } },
	{ F(class_getattr), false, { { "PyClassObject", "cl_getattr" } } },
	{ F(class_setattr), false, { { "PyClassObject", "cl_setattr" } } },
	{ F(class_delattr), false, { { "PyClassObject", "cl_delattr" } } },
	{ F(inst_class), false, { { "PyInstanceObject", "in_class" } } },
	{ F(inst_dict), false, { { "PyInstanceObject", "in_dict" } } },
	{ F(int_ival), false, { { "PyIntObject", "ob_ival" } } },
};
#define NSPECS (sizeof specs / sizeof specs[0])

/* The source files that implement the types above.  Each uses its types,
 * so its compile unit carries their complete definitions: a type none of
 * them defines is absent from the build, and the other few hundred CUs
 * need not be read.  Matched on the basename of the CU's DW_AT_name
 * ("../Objects/dictobject.c" in Debian's LTO build). */
static const char *const home_cus[] = {
	"gcmodule.c",      /* gc types, 2.7-3.12 */
	"gc.c",            /* gc types, 3.13+ */
	"pystate.c",       /* _PyRuntimeState, PyInterpreterState */
	"object.c", "typeobject.c",
	"unicodeobject.c", /* PEP 393 strings */
	"stringobject.c",  /* 2.7 str */
	"dictobject.c",
	/* the object model's types */
	"listobject.c", "tupleobject.c", "setobject.c", "funcobject.c",
	"classobject.c", "cellobject.c", "moduleobject.c", "descrobject.c",
	"exceptions.c", "traceback.c", "weakrefobject.c", "frameobject.c",
	"genobject.c", "codeobject.c", "methodobject.c", "structmember.c",
	"longobject.c", "bytearrayobject.c",
	"intobject.c",     /* 2.7 int */
	/* hand-coded C types */
	"sliceobject.c", "namespaceobject.c", "odictobject.c",
	"_collectionsmodule.c", "_functoolsmodule.c",
	"ceval.c", "errors.c",
};

/* ==================== finding types by name ==================== */

#define MAXTYPES 160

struct typetab {
	const char *name[MAXTYPES];     /* borrowed from specs[] */
	Dwarf_Die die[MAXTYPES];
	bool found[MAXTYPES];
	bool required[MAXTYPES];
	size_t n, nfound;
	/* partial units already scanned (dwz): each is imported by many CUs;
	 * a unit is known by its file (main or dwz's common file) and offset */
	struct seen { Dwarf *dw; Dwarf_Off off; } *seen;
	size_t nseen, capseen;
};

static void want(struct typetab *tt, const char *name, bool required)
{
	size_t i;

	for (i = 0; i < tt->n; i++)
		if (strcmp(tt->name[i], name) == 0)
			break;
	if (i == tt->n) {
		if (tt->n == MAXTYPES)
			return; /* cannot happen with specs[] as it is */
		tt->name[tt->n++] = name;
	}
	tt->required[i] = tt->required[i] || required;
}

static void typetab_init(struct typetab *tt)
{
	memset(tt, 0, sizeof *tt);
	for (size_t s = 0; s < NSPECS; s++)
		for (int k = 0; k < MAXALT && specs[s].alt[k].type; k++)
			want(tt, specs[s].alt[k].type, specs[s].required);
}

/* Strip typedefs and qualifiers.  Returns 0, or -1 on a broken chain. */
static int peel(const Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Die cur = *die;

	for (int i = 0; i < 16; i++) {
		Dwarf_Attribute a;
		int tag = dwarf_tag(&cur);

		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type &&
		    tag != DW_TAG_volatile_type && tag != DW_TAG_atomic_type) {
			*out = cur;
			return 0;
		}
		if (!dwarf_attr_integrate(&cur, DW_AT_type, &a) ||
		    !dwarf_formref_die(&a, &cur))
			return -1;
	}
	return -1;
}

/* A full definition of a struct or union (a typedef of one counts), not
 * a forward declaration such as "struct _is;" in most CUs. */
static bool is_complete(Dwarf_Die *d)
{
	Dwarf_Die t;
	int tag;

	if (peel(d, &t) < 0)
		return false;
	tag = dwarf_tag(&t);
	return (tag == DW_TAG_structure_type || tag == DW_TAG_union_type) &&
	       !dwarf_hasattr(&t, DW_AT_declaration);
}

/* Whether the partial unit pu was scanned already; marks it scanned. */
static bool seen_unit(struct typetab *tt, Dwarf_Die *pu)
{
	Dwarf *dw = dwarf_cu_getdwarf(pu->cu);
	Dwarf_Off off = dwarf_dieoffset(pu);

	for (size_t i = 0; i < tt->nseen; i++)
		if (tt->seen[i].dw == dw && tt->seen[i].off == off)
			return true;
	if (tt->nseen == tt->capseen) {
		size_t nc = tt->capseen ? tt->capseen * 2 : 64;
		struct seen *nv = realloc(tt->seen, nc * sizeof *nv);

		if (!nv)
			return false; /* scan it again rather than fail */
		tt->seen = nv;
		tt->capseen = nc;
	}
	tt->seen[tt->nseen].dw = dw;
	tt->seen[tt->nseen++].off = off;
	return false;
}

/* Look at the top-level DIEs of a unit for wanted types. */
static void scan_unit(Dwarf_Die *unit, struct typetab *tt, int depth)
{
	Dwarf_Die child;

	if (dwarf_child(unit, &child) != 0)
		return;
	do {
		int tag = dwarf_tag(&child);
		const char *nm;

		if (tag == DW_TAG_imported_unit && depth < 8) {
			Dwarf_Attribute a;
			Dwarf_Die pu;

			if (dwarf_attr(&child, DW_AT_import, &a) &&
			    dwarf_formref_die(&a, &pu) &&
			    !seen_unit(tt, &pu))
				scan_unit(&pu, tt, depth + 1);
			continue;
		}
		if (tag != DW_TAG_structure_type && tag != DW_TAG_union_type &&
		    tag != DW_TAG_typedef)
			continue;
		nm = dwarf_diename(&child);
		if (!nm)
			continue;
		for (size_t i = 0; i < tt->n; i++)
			if (!tt->found[i] && strcmp(nm, tt->name[i]) == 0 &&
			    is_complete(&child)) {
				tt->die[i] = child;
				tt->found[i] = true;
				tt->nfound++;
			}
	} while (tt->nfound < tt->n && dwarf_siblingof(&child, &child) == 0);
}

static bool is_home_cu(Dwarf_Die *cu)
{
	const char *nm = dwarf_diename(cu);
	const char *base;

	if (!nm)
		return false;
	base = strrchr(nm, '/');
	base = base ? base + 1 : nm;
	for (size_t i = 0; i < sizeof home_cus / sizeof home_cus[0]; i++)
		if (strcmp(base, home_cus[i]) == 0)
			return true;
	return false;
}

/* Scan the compile units that are (home) or are not (!home) home CUs,
 * until every wanted type is found.  Returns the number of CUs read. */
static unsigned scan_cus(Dwarf *dw, struct typetab *tt, bool home)
{
	Dwarf_Off off = 0, next;
	size_t hsize;
	unsigned n = 0;

	while (tt->nfound < tt->n &&
	       dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu;

		if (dwarf_offdie(dw, off + hsize, &cu) &&
		    dwarf_tag(&cu) == DW_TAG_compile_unit && is_home_cu(&cu) == home) {
			scan_unit(&cu, tt, 0);
			n++;
		}
		off = next;
	}
	return n;
}

static bool required_missing(const struct typetab *tt)
{
	for (size_t i = 0; i < tt->n; i++)
		if (tt->required[i] && !tt->found[i])
			return true;
	return false;
}

static Dwarf_Die *lookup_type(struct typetab *tt, const char *name)
{
	for (size_t i = 0; i < tt->n; i++)
		if (tt->found[i] && strcmp(tt->name[i], name) == 0)
			return &tt->die[i];
	return NULL;
}

/* ==================== member offsets ==================== */

/* DW_AT_data_member_location of m: a constant (DWARF 3+) or, from old
 * compilers, a DW_OP_plus_uconst expression; absent means 0 (unions). */
static int member_location(Dwarf_Die *m, int64_t *out)
{
	Dwarf_Attribute a;
	Dwarf_Word w;
	Dwarf_Op *ops;
	size_t nops;

	*out = 0;
	if (!dwarf_attr(m, DW_AT_data_member_location, &a)) {
		/* DWARF 4+ bitfield: report its storage unit */
		if (dwarf_attr(m, DW_AT_data_bit_offset, &a) &&
		    dwarf_formudata(&a, &w) == 0) {
			Dwarf_Die t;
			int unit = dwarf_bytesize(m);

			if (unit <= 0 && dwarf_attr(m, DW_AT_type, &a) &&
			    dwarf_formref_die(&a, &t))
				unit = dwarf_bytesize(&t);
			if (unit <= 0)
				unit = 1;
			*out = (int64_t)(w / (8u * (unsigned)unit)) * unit;
		}
		return 0;
	}
	if (dwarf_formudata(&a, &w) == 0) {
		*out = (int64_t)w;
		return 0;
	}
	if (dwarf_getlocation(&a, &ops, &nops) == 0 && nops == 1 &&
	    ops[0].atom == DW_OP_plus_uconst) {
		*out = (int64_t)ops[0].number;
		return 0;
	}
	return -1;
}

/* Offset of a member along a dotted path ("interpreters.head"), looking
 * through anonymous struct and union members on the way. */
static int member_offset(Dwarf_Die *type, const char *path, int depth, int64_t *out)
{
	Dwarf_Die t, m;
	const char *dot = strchr(path, '.');
	size_t len = dot ? (size_t)(dot - path) : strlen(path);

	if (depth > 8 || peel(type, &t) < 0 || dwarf_child(&t, &m) != 0)
		return -1;
	do {
		Dwarf_Attribute a;
		Dwarf_Die mt;
		const char *nm;
		int64_t loc, inner;

		if (dwarf_tag(&m) != DW_TAG_member || member_location(&m, &loc) < 0 ||
		    !dwarf_attr_integrate(&m, DW_AT_type, &a) || !dwarf_formref_die(&a, &mt))
			continue;
		nm = dwarf_diename(&m);
		if (!nm) {
			if (member_offset(&mt, path, depth + 1, &inner) == 0) {
				*out = loc + inner;
				return 0;
			}
			continue;
		}
		if (strlen(nm) != len || strncmp(nm, path, len) != 0)
			continue;
		if (!dot) {
			*out = loc;
			return 0;
		}
		if (member_offset(&mt, dot + 1, depth + 1, &inner) < 0)
			return -1;
		*out = loc + inner;
		return 0;
	} while (dwarf_siblingof(&m, &m) == 0);
	return -1;
}

static int resolve_alt(struct typetab *tt, const struct alt *a, int64_t *out)
{
	Dwarf_Die *d = lookup_type(tt, a->type);
	Dwarf_Die t;
	Dwarf_Word size;

	if (!d)
		return -1;
	if (a->path)
		return member_offset(d, a->path, 0, out);
	if (peel(d, &t) < 0 || dwarf_aggregate_size(&t, &size) != 0)
		return -1;
	*out = (int64_t)size;
	return 0;
}

static void fill(struct typetab *tt, struct hw_offsets *o)
{
	hw_offsets_init(o);
	for (size_t s = 0; s < NSPECS; s++) {
		int64_t *field = (int64_t *)((char *)o + specs[s].off);

		for (int k = 0; k < MAXALT && specs[s].alt[k].type; k++)
			if (resolve_alt(tt, &specs[s].alt[k], field) == 0)
				break;
	}
	/* 2.7 and 3.6 have no struct _gc_runtime_state: generations[] is a
	 * static array in gcmodule.c and *_PyGC_generation0 points at its
	 * first element, so the lists start at offset 0 from there. */
	if (o->gc_gens < 0 && o->gc_size < 0 && o->gc_gen_stride > 0)
		o->gc_gens = 0;
}

/* ==================== a small cache, keyed by file identity ==================== */

#define CACHE_SLOTS 8
static struct cache_ent {
	bool valid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct hw_offsets off;
	char where[4096];
} cache[CACHE_SLOTS];
static unsigned cache_next;

static bool same_file(const struct cache_ent *c, const struct stat *st)
{
	return c->valid && c->dev == st->st_dev && c->ino == st->st_ino &&
	       c->size == st->st_size && c->mtime.tv_sec == st->st_mtim.tv_sec &&
	       c->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* ==================== the scan ==================== */

/* What the offsets are read from: type DIEs (.debug_info,
 * .debug_abbrev) and their names (.debug_str, .debug_line_str,
 * .debug_str_offsets).  libdw inflates every compressed debug section
 * when it opens a file, line tables and location lists included: for
 * Debian's -dbg files (compressed) those are 40% of the work. */
static bool unneeded_section(const char *name)
{
	static const char *const names[] = {
		".debug_line", ".debug_loclists", ".debug_loc", ".debug_rnglists",
		".debug_ranges", ".debug_aranges", ".debug_frame", ".debug_macro",
		".debug_macinfo", ".debug_names", ".debug_pubnames", ".debug_pubtypes",
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

struct lean {
	int fd;
	Elf *elf;
	Dwarf *dw;
	char *file;     /* the file the DWARF came from (malloc) */
};

static void lean_end(struct lean *ln)
{
	if (ln->dw)
		dwarf_end(ln->dw);
	if (ln->elf)
		elf_end(ln->elf);
	if (ln->fd >= 0)
		close(ln->fd);
	free(ln->file);
	memset(ln, 0, sizeof *ln);
	ln->fd = -1;
}

/* Whether elf carries the build-id id (n bytes). */
static bool has_build_id(Elf *elf, const unsigned char *id, int n)
{
	const void *bid;
	ssize_t bn = dwelf_elf_gnu_build_id(elf, &bid);

	return bn == n && memcmp(bid, id, (size_t)n) == 0;
}

/* Open mod's separate debug file, found by build-id under
 * /usr/lib/debug or extra_root (where dwfl looks first), with the
 * sections the scan never reads hidden (SHT_NOBITS on a private mapping
 * of the file), so that libdw does not inflate them.  NULL when that is
 * not possible (no such file, DWARF in the binary itself, a file that
 * refers to a supplementary one): the caller then asks dwfl.  Everything
 * in *ln is ours (lean_end), nothing of dwfl's. */
static Dwarf *lean_dwarf(Dwfl_Module *mod, const char *extra_root, struct lean *ln)
{
	const char *roots[2] = { "/usr/lib/debug", extra_root };
	const unsigned char *id;
	GElf_Addr vaddr;
	char hex[2 * 64 + 1], file[4200];
	int n = dwfl_module_build_id(mod, &id, &vaddr);
	size_t shstrndx;

	memset(ln, 0, sizeof *ln);
	ln->fd = -1;
	if (n < 2 || n > 64)
		return NULL;
	for (int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	for (size_t r = 0; r < 2 && ln->fd < 0; r++) {
		if (!roots[r])
			continue;
		snprintf(file, sizeof file, "%s/.build-id/%.2s/%s.debug", roots[r], hex, hex + 2);
		ln->fd = open(file, O_RDONLY | O_CLOEXEC);
	}
	if (ln->fd < 0 || !(ln->file = strdup(file)))
		goto fail;
	ln->elf = elf_begin(ln->fd, ELF_C_READ_MMAP_PRIVATE, NULL);
	if (!ln->elf || elf_kind(ln->elf) != ELF_K_ELF || !has_build_id(ln->elf, id, n) ||
	    elf_getshdrstrndx(ln->elf, &shstrndx) != 0)
		goto fail;
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(ln->elf, scn)) != NULL;) {
		GElf_Shdr sh;
		const char *sn;

		if (!gelf_getshdr(scn, &sh) ||
		    !(sn = elf_strptr(ln->elf, shstrndx, sh.sh_name)))
			goto fail;
		/* a dwz'd file shares DIEs with another: leave that to dwfl */
		if (strcmp(sn, ".gnu_debugaltlink") == 0 || strcmp(sn, ".debug_sup") == 0)
			goto fail;
		if (sh.sh_type != SHT_NOBITS && unneeded_section(sn)) {
			sh.sh_type = SHT_NOBITS;
			if (!gelf_update_shdr(scn, &sh))
				goto fail;
		}
	}
	if (!(ln->dw = dwarf_begin_elf(ln->elf, DWARF_C_READ, NULL)))
		goto fail;
	return ln->dw;
fail:
	lean_end(ln);
	return NULL;
}

/* debuginfo_path: dwfl's default list, plus extra_root (a container's
 * /usr/lib/debug) when not NULL. */
static int dwarf_file(const char *path, const char *extra_root,
		      struct hw_offsets *o, char *where, size_t where_size,
		      struct hw_err *e)
{
	char dipath[4200];
	char *dipath_p = dipath;
	const Dwfl_Callbacks cb = {
		.find_elf = dwfl_build_id_find_elf,
		.find_debuginfo = dwfl_standard_find_debuginfo,
		.section_address = dwfl_offline_section_address,
		.debuginfo_path = &dipath_p,
	};
	struct typetab tt;
	struct lean ln = { .fd = -1 };
	struct stat st;
	Dwfl *dwfl = NULL;
	Dwfl_Module *mod;
	Dwarf *dw;
	Dwarf_Addr bias;
	const char *dbgfile = NULL;
	int rc = -1;

	if (stat(path, &st) < 0)
		return hw_err_set(e, HW_EIO, errno, "%s", path);
	for (unsigned i = 0; i < CACHE_SLOTS; i++)
		if (same_file(&cache[i], &st)) {
			*o = cache[i].off;
			if (where && where_size)
				snprintf(where, where_size, "%s", cache[i].where);
			return 0;
		}
	snprintf(dipath, sizeof dipath, ":.debug:/usr/lib/debug%s%s",
		 extra_root ? ":" : "", extra_root ? extra_root : "");
	typetab_init(&tt);
	dwfl = dwfl_begin(&cb);
	if (!dwfl) {
		hw_err_set(e, HW_ENOMEM, 0, "dwfl_begin: %s", dwfl_errmsg(-1));
		goto out;
	}
	mod = dwfl_report_offline(dwfl, "python", path, -1);
	if (!mod || dwfl_report_end(dwfl, NULL, NULL) != 0) {
		hw_err_set(e, HW_ELAYOUT, 0, "%s: %s", path, dwfl_errmsg(-1));
		goto out;
	}
	if (!(dw = lean_dwarf(mod, extra_root, &ln)))
		dw = dwfl_module_getdwarf(mod, &bias);
	if (!dw) {
		hw_err_set(e, HW_ELAYOUT, 0,
			   "%s: no DWARF debug info, in it or in a debug file found by "
			   "build-id or .gnu_debuglink (install the -dbg package)", path);
		goto out;
	}
	scan_cus(dw, &tt, true);
	/* Home CUs named differently (a unity build, a renamed file): fall
	 * back to reading every CU, still stopping when all are found. */
	if (required_missing(&tt))
		scan_cus(dw, &tt, false);
	fill(&tt, o);
	if (o->ob_type < 0 || o->tp_name < 0 || o->gchead_size < 0) {
		hw_err_set(e, HW_ELAYOUT, 0,
			   "%s: its DWARF lacks CPython's object types (PyObject, "
			   "PyTypeObject, PyGC_Head)", path);
		goto out;
	}
	if (ln.dw)
		dbgfile = ln.file;
	else
		dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, &dbgfile);
	if (where && where_size)
		snprintf(where, where_size, "%s", dbgfile ? dbgfile : path);
	{
		struct cache_ent *c = &cache[cache_next++ % CACHE_SLOTS];

		c->dev = st.st_dev;
		c->ino = st.st_ino;
		c->size = st.st_size;
		c->mtime = st.st_mtim;
		c->off = *o;
		snprintf(c->where, sizeof c->where, "%s", dbgfile ? dbgfile : path);
		c->valid = true;
	}
	rc = 0;
out:
	free(tt.seen);
	lean_end(&ln);
	if (dwfl)
		dwfl_end(dwfl);
	return rc;
}

int hw_dwarf_offsets_file(const char *path, struct hw_offsets *o, char *where,
			  size_t where_size, struct hw_err *e)
{
	return dwarf_file(path, NULL, o, where, where_size, e);
}

int hw_dwarf_offsets_file_in(const char *path, const char *debug_dir,
			     struct hw_offsets *o, char *where, size_t where_size,
			     struct hw_err *e)
{
	return dwarf_file(path, debug_dir, o, where, where_size, e);
}

int hw_target_dwarf(const struct hw_target *t, struct hw_offsets *o,
		    char *where, size_t where_size, struct hw_err *e)
{
	char root[64], dbgroot[96];
	struct stat a, b;
	const char *extra = NULL;

	/* A process in another mount namespace (a container) keeps its
	 * debug files under its own root. */
	snprintf(root, sizeof root, "/proc/%d/root", (int)t->pid);
	if (stat(root, &a) == 0 && stat("/", &b) == 0 &&
	    (a.st_dev != b.st_dev || a.st_ino != b.st_ino)) {
		snprintf(dbgroot, sizeof dbgroot, "%s/usr/lib/debug", root);
		extra = dbgroot;
	}
	return dwarf_file(t->open_path, extra, o, where, where_size, e);
}

/* ==================== static symbols from a debug file ==================== */

/* A stripped binary (Debian's /usr/bin/python3.11) keeps only .dynsym;
 * its static functions (subtype_traverse, lookdict) are in the symbol
 * table of the separate debug file, which libdwfl finds the same way as
 * the DWARF and reads through dwfl_module_getsymtab. */
int hw_target_debug_symbols(const struct hw_target *t, const char *const *names,
			    uint64_t *addrs, size_t n, struct hw_err *e)
{
	char dipath[256], root[64], dbgroot[96];
	char *dipath_p = dipath;
	const Dwfl_Callbacks cb = {
		.find_elf = dwfl_build_id_find_elf,
		.find_debuginfo = dwfl_standard_find_debuginfo,
		.section_address = dwfl_offline_section_address,
		.debuginfo_path = &dipath_p,
	};
	struct stat a, b;
	bool *dup = calloc(n ? n : 1, sizeof *dup);
	Dwfl *dwfl = NULL;
	Dwfl_Module *mod;
	int nsym, found = 0, rc = -1;

	if (!dup)
		return hw_err_set(e, HW_ENOMEM, ENOMEM, "allocating a symbol table");
	for (size_t i = 0; i < n; i++)
		addrs[i] = 0;
	snprintf(root, sizeof root, "/proc/%d/root", (int)t->pid);
	dbgroot[0] = '\0';
	if (stat(root, &a) == 0 && stat("/", &b) == 0 &&
	    (a.st_dev != b.st_dev || a.st_ino != b.st_ino))
		snprintf(dbgroot, sizeof dbgroot, ":%s/usr/lib/debug", root);
	snprintf(dipath, sizeof dipath, ":.debug:/usr/lib/debug%s", dbgroot);
	dwfl = dwfl_begin(&cb);
	if (!dwfl) {
		hw_err_set(e, HW_ENOMEM, 0, "dwfl_begin: %s", dwfl_errmsg(-1));
		goto out;
	}
	mod = dwfl_report_offline(dwfl, "python", t->open_path, -1);
	if (!mod || dwfl_report_end(dwfl, NULL, NULL) != 0) {
		hw_err_set(e, HW_ELAYOUT, 0, "%s: %s", t->open_path, dwfl_errmsg(-1));
		goto out;
	}
	nsym = dwfl_module_getsymtab(mod);
	if (nsym <= 0) {
		hw_err_set(e, HW_ELAYOUT, 0, "%s: no symbol table, in it or in a debug file",
			   t->open_path);
		goto out;
	}
	for (int i = 0; i < nsym; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *nm = dwfl_module_getsym_info(mod, i, &sym, &addr, NULL,
							 NULL, NULL);

		if (!nm || !sym.st_value || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		for (size_t k = 0; k < n; k++) {
			if (!hw_symbol_is(nm, names[k]))
				continue;
			if (addrs[k] && addrs[k] != sym.st_value + t->bias)
				dup[k] = true;
			addrs[k] = sym.st_value + t->bias;
		}
	}
	for (size_t k = 0; k < n; k++) {
		if (dup[k])
			addrs[k] = 0;
		found += addrs[k] != 0;
	}
	rc = found;
out:
	free(dup);
	if (dwfl)
		dwfl_end(dwfl);
	return rc;
}
