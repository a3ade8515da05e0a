{
  # Built by scripts/build-native.mjs (the package's install script), which also finds OpenBLAS:
  # the two <!@(...) lines ask it for the cblas.h directory and the linker flags (env EAPGP_BLAS_INCLUDE and
  # EAPGP_BLAS_LIB override the search; see the script's header).
  "targets": [
    {
      "target_name": "eapgp_blas",
      "sources": ["src/addon.c", "src/peak.c", "src/split.c"],
      "include_dirs": ["<!@(node ../scripts/build-native.mjs --include-dirs)"],
      "libraries": ["<!@(node ../scripts/build-native.mjs --libs)"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-O3", "-std=gnu11", "-pthread", "-Wall", "-Wno-unused-parameter"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-O3", "-std=gnu11", "-Wall"],
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      }
    }
  ]
}
