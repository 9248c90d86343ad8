/* weft's malloc_trim addon: one Node-API function that calls glibc's malloc_trim(0) (bin/malloc-trim.js builds it). */
#include <malloc.h>
#include <stddef.h>
#ifndef __GLIBC__
#error "malloc_trim is a glibc function"
#endif

/* The few Node-API declarations it needs (a stable C ABI: node_api.h is not required to build it). */
typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef napi_value (*napi_callback)(napi_env, napi_callback_info);
extern int napi_create_function(napi_env, const char *, size_t, napi_callback, void *, napi_value *);
extern int napi_get_boolean(napi_env, _Bool, napi_value *);

/* mallocTrim(): true when glibc gave memory back to the kernel. */
static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result = NULL;
  napi_get_boolean(env, malloc_trim(0) == 1, &result);
  return result;
}

/* The module's exports are the function itself. */
napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  (void)exports;
  napi_value fn = NULL;
  napi_create_function(env, "mallocTrim", (size_t)-1, trim, NULL, &fn);
  return fn;
}

int node_api_module_get_api_version_v1(void) { return 8; }
