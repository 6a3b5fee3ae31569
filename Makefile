# Builds and installs avs as a C library: libavs.a, libavs.so, avs.h, a pkg-config file and a
# CMake package (GNU make).
#
#   make                           cargo build --release --lib   (CARGO, FEATURES, PROFILE=debug)
#   make TARGET=armv7-unknown-linux-gnueabihf        (or aarch64-unknown-linux-gnu)
#                                  cross build through scripts/cross.sh: CC, AR, CFLAGS, LDFLAGS of
#                                  a Buildroot/Yocto environment are honoured. Any other Rust
#                                  triple goes to `$(CARGO) build --target TARGET` as is.
#                                  (cross.sh runs the `cargo` on PATH, not $(CARGO).)
#   make install                   installs what `make` built for TARGET (or the host):
#        PREFIX=/usr/local DESTDIR= LIBDIR=$(PREFIX)/lib INCLUDEDIR=$(PREFIX)/include
#        INSTALL_STATIC=1 INSTALL_SHARED=1   (0: leave that library out, e.g. static-only firmware)
#          $(LIBDIR)/libavs.a  $(LIBDIR)/libavs.so  $(INCLUDEDIR)/avs.h
#          $(LIBDIR)/pkgconfig/avs.pc                                   pkg-config --libs [--static] avs
#          $(LIBDIR)/cmake/avs/avsConfig.cmake, avsConfigVersion.cmake  find_package(avs) -> avs::avs
#   make uninstall                 removes them (same variables)
#   make print-native-static-libs  what a static link of libavs.a needs (Libs.private)
#
# `make install` builds only when the library is missing (so `make && sudo make install` does not
# run cargo as root); run `make` first after changing the sources.

# Under `cargo test` (tests/c_examples.rs, tests/packaging.rs) the environment carries the test
# crate's CARGO_PKG_*/CARGO_MANIFEST_* variables; a nested cargo passing them on to build scripts
# that watch them (mbedtls: CARGO_PKG_VERSION) sees a changed environment and rebuilds, once per
# alternation with a plain `cargo build`. Keep them from the recipes.
unexport $(filter CARGO_PKG_% CARGO_MANIFEST_% CARGO_BIN_% CARGO_CRATE_NAME CARGO_PRIMARY_PACKAGE CARGO_TARGET_TMPDIR CARGO_RUSTC_CURRENT_DIR,$(.VARIABLES))

CARGO ?= cargo
RUSTC ?= rustc
READELF ?= readelf
INSTALL ?= install
PROFILE ?= release
FEATURES ?=
TARGET ?=

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR ?= $(LIBDIR)/cmake/avs
DESTDIR ?=
INSTALL_STATIC ?= 1
INSTALL_SHARED ?= 1

# Libs.private / the CMake static link interface. Empty: asked from rustc for TARGET at install
# time (an empty staticlib: the -sys crates' C libraries are bundled into libavs.a, so std's
# list is the whole list); this is the fallback when rustc is not available (e.g. under sudo).
NATIVE_STATIC_LIBS ?=
DEFAULT_NATIVE_STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VERSION := $(shell sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' '$(TOP)/Cargo.toml')

# The targets scripts/cross.sh knows (it exports the cross C toolchain for the -sys crates).
CROSS_SH_TARGETS := armv7-unknown-linux-gnueabihf aarch64-unknown-linux-gnu

ifeq ($(PROFILE),release)
  CARGO_PROFILE_FLAG := --release
else ifeq ($(PROFILE),debug)
  CARGO_PROFILE_FLAG :=
else
  CARGO_PROFILE_FLAG := --profile $(PROFILE)
endif
FEATURES_FLAG := $(if $(strip $(FEATURES)),--features '$(strip $(FEATURES))')

# Where cargo puts its output: the repo's target/ (or $CARGO_TARGET_DIR, relative to the repo).
CARGO_OUT := $(if $(CARGO_TARGET_DIR),$(abspath $(if $(filter /%,$(CARGO_TARGET_DIR)),,$(TOP)/)$(CARGO_TARGET_DIR)),$(TOP)/target)
ifneq ($(strip $(TARGET)),)
  ifneq ($(filter $(TARGET),$(CROSS_SH_TARGETS)),)
    CARGO_BUILD := '$(TOP)/scripts/cross.sh' $(TARGET) rustc
  else
    CARGO_BUILD := $(CARGO) rustc --target $(TARGET)
  endif
  OUTDIR := $(CARGO_OUT)/$(TARGET)/$(PROFILE)
  RUSTC_TARGET_FLAG := --target $(TARGET)
  TARGET_NAME := $(TARGET)
else
  CARGO_BUILD := $(CARGO) rustc
  OUTDIR := $(CARGO_OUT)/$(PROFILE)
  RUSTC_TARGET_FLAG :=
  TARGET_NAME := host
endif
# Only the C crate types: with the rlib in the same build, cargo skips the release profile's LTO
# (measured: libavs.a 29 MB -> 11 MB, libavs.so text 918 KB -> 837 KB on x86_64).
C_CRATE_TYPES := --crate-type staticlib --crate-type cdylib
CARGO_CMD := cd '$(TOP)' && $(CARGO_BUILD) --lib $(CARGO_PROFILE_FLAG) $(FEATURES_FLAG) $(C_CRATE_TYPES)

STATIC_LIB := $(OUTDIR)/libavs.a
SHARED_LIB := $(OUTDIR)/libavs.so
INSTALL_FILES := $(if $(filter 1 yes,$(INSTALL_STATIC)),$(STATIC_LIB)) $(if $(filter 1 yes,$(INSTALL_SHARED)),$(SHARED_LIB))

all: build

# Always ask cargo: it knows whether the library is up to date.
build:
	+$(CARGO_CMD)

# Only when missing (see above).
$(STATIC_LIB) $(SHARED_LIB):
	+$(CARGO_CMD)

# Prints the libraries rustc says a static link of TARGET's libavs.a needs.
define probe_native_static_libs
libs='$(strip $(NATIVE_STATIC_LIBS))'; \
if [ -z "$$libs" ]; then \
	ptmp=$$(mktemp -d); echo 'pub fn avs_probe() {}' >"$$ptmp/probe.rs"; \
	libs=$$($(RUSTC) --edition 2021 --crate-type staticlib --crate-name avs_probe $(RUSTC_TARGET_FLAG) \
		--print native-static-libs -o "$$ptmp/libavs_probe.a" "$$ptmp/probe.rs" 2>&1 \
		| sed -n 's/.*native-static-libs: *//p' | tail -n 1); \
	rm -rf "$$ptmp"; \
	if [ -z "$$libs" ]; then \
		libs='$(DEFAULT_NATIVE_STATIC_LIBS)'; \
		echo "note: could not ask $(RUSTC) for the native-static-libs of $(TARGET_NAME); using $$libs" >&2; \
	fi; \
fi
endef

print-native-static-libs:
	@$(probe_native_static_libs); echo "$$libs"

install: $(INSTALL_FILES)
	@set -e; \
	if [ -z "$(strip $(INSTALL_FILES))" ]; then echo "install: INSTALL_STATIC and INSTALL_SHARED are both off" >&2; exit 1; fi; \
	case '$(PREFIX)$(LIBDIR)$(INCLUDEDIR)$(CMAKEDIR)' in *'|'*|*'&'*) echo "install: '|' and '&' are not supported in paths" >&2; exit 1;; esac; \
	d='$(DESTDIR)'; \
	$(probe_native_static_libs); \
	bits=$$($(RUSTC) --print cfg $(RUSTC_TARGET_FLAG) 2>/dev/null | sed -n 's/^target_pointer_width="\([0-9]*\)"/\1/p'); \
	sizeof_void_p=$${bits:+$$((bits / 8))}; \
	$(INSTALL) -d "$$d$(LIBDIR)" "$$d$(INCLUDEDIR)" "$$d$(PKGCONFIGDIR)" "$$d$(CMAKEDIR)"; \
	shared_file=; soname=; \
	if [ -n '$(filter 1 yes,$(INSTALL_STATIC))' ]; then \
		echo "install $(STATIC_LIB) -> $$d$(LIBDIR)/libavs.a"; \
		$(INSTALL) -m 644 '$(STATIC_LIB)' "$$d$(LIBDIR)/libavs.a"; \
	fi; \
	if [ -n '$(filter 1 yes,$(INSTALL_SHARED))' ]; then \
		soname=$$($(READELF) -d '$(SHARED_LIB)' 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p'); \
		if [ -z "$$soname" ] || [ "$$soname" = libavs.so ]; then \
			shared_file=libavs.so; \
			echo "install $(SHARED_LIB) -> $$d$(LIBDIR)/libavs.so  (SONAME: $${soname:-none})"; \
			$(INSTALL) -m 755 '$(SHARED_LIB)' "$$d$(LIBDIR)/libavs.so"; \
		else \
			shared_file=libavs.so.$(VERSION); \
			echo "install $(SHARED_LIB) -> $$d$(LIBDIR)/$$shared_file, $$soname, libavs.so (SONAME: $$soname)"; \
			$(INSTALL) -m 755 '$(SHARED_LIB)' "$$d$(LIBDIR)/$$shared_file"; \
			[ "$$soname" = "$$shared_file" ] || ln -sf "$$shared_file" "$$d$(LIBDIR)/$$soname"; \
			ln -sf "$$soname" "$$d$(LIBDIR)/libavs.so"; \
		fi; \
	fi; \
	echo "install include/avs.h -> $$d$(INCLUDEDIR)/avs.h"; \
	$(INSTALL) -m 644 '$(TOP)/include/avs.h' "$$d$(INCLUDEDIR)/avs.h"; \
	rel_libdir=$$(realpath -m -s --relative-to='$(CMAKEDIR)' '$(LIBDIR)'); \
	rel_includedir=$$(realpath -m -s --relative-to='$(CMAKEDIR)' '$(INCLUDEDIR)'); \
	libs_cmake=$$(echo $$libs | tr ' ' ';'); \
	subst() { sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@TARGET@|$(TARGET_NAME)|g' \
		-e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|g' \
		-e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g' \
		-e "s|@LIBS_PRIVATE@|$$libs|g" -e "s|@LIBS_PRIVATE_CMAKE@|$$libs_cmake|g" \
		-e "s|@REL_LIBDIR@|$$rel_libdir|g" -e "s|@REL_INCLUDEDIR@|$$rel_includedir|g" \
		-e "s|@SHARED_FILE@|$$shared_file|g" -e "s|@SONAME@|$$soname|g" \
		-e "s|@SIZEOF_VOID_P@|$$sizeof_void_p|g" "$$1" >"$$2"; chmod 644 "$$2"; echo "install $$2"; }; \
	subst '$(TOP)/packaging/avs.pc.in' "$$d$(PKGCONFIGDIR)/avs.pc"; \
	subst '$(TOP)/packaging/avsConfig.cmake.in' "$$d$(CMAKEDIR)/avsConfig.cmake"; \
	subst '$(TOP)/packaging/avsConfigVersion.cmake.in' "$$d$(CMAKEDIR)/avsConfigVersion.cmake"

uninstall:
	rm -f '$(DESTDIR)$(LIBDIR)/libavs.a' '$(DESTDIR)$(LIBDIR)/libavs.so' '$(DESTDIR)$(LIBDIR)'/libavs.so.* \
		'$(DESTDIR)$(INCLUDEDIR)/avs.h' '$(DESTDIR)$(PKGCONFIGDIR)/avs.pc' \
		'$(DESTDIR)$(CMAKEDIR)/avsConfig.cmake' '$(DESTDIR)$(CMAKEDIR)/avsConfigVersion.cmake'
	rmdir '$(DESTDIR)$(CMAKEDIR)' 2>/dev/null || true

.PHONY: all build install uninstall print-native-static-libs
