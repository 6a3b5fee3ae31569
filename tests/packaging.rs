//! `make install` gives C projects a usable package: outside the repo, a small C program that
//! calls `avs_version`, `avs_config_init` and `avs_status_str` is built and run
//!   * with `pkg-config --cflags --libs --static avs` from a static-only, DESTDIR-staged install
//!     (`PKG_CONFIG_SYSROOT_DIR`, as a firmware SDK does),
//!   * with `pkg-config --cflags --libs avs` against the shared library,
//!   * with CMake `find_package(avs)` + `avs::avs`: static (the default) from the staged tree
//!     (the package is relocatable), shared (`-DAVS_USE_SHARED=ON`) from a plain PREFIX install,
//! and `make uninstall` removes every installed file. Uses the release library (`make` =
//! `cargo build --release --lib`, a no-op when it is up to date).
//!
//! Skipped, with the reason printed, when `cmake` or `pkg-config` is not installed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

const VERSION: &str = env!("CARGO_PKG_VERSION");

const MAIN_C: &str = r#"#include <avs.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    avs_config cfg;
    memset(&cfg, 0, sizeof cfg);
    avs_status st = avs_config_init(&cfg);
    printf("version %s\n", avs_version());
    printf("config_init %d %s\n", (int)st, avs_status_str(st));
    printf("event_queue_capacity %u\n", (unsigned)cfg.event_queue_capacity);
    printf("null_config %d\n", (int)avs_config_init(NULL));
    printf("status_1 %s\n", avs_status_str(AVS_STATUS_NULL_ARGUMENT));
    return st == AVS_STATUS_OK && cfg.event_queue_capacity > 0 ? 0 : 1;
}
"#;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

fn show(what: &str, out: &Output) -> String {
    format!("{what}: {}\nstdout:\n{}\nstderr:\n{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs `cmd`, panics with its output unless it succeeds; returns stdout.
fn run(what: &str, cmd: &mut Command) -> String {
    let t0 = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{}", show(what, &out));
    eprintln!("packaging: {what}: {:.1?}", t0.elapsed());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn make(args: &[&str]) -> Command {
    let mut cmd = Command::new("make");
    cmd.arg("-C").arg(repo()).args(args);
    // A `make -jN` around `cargo test` must not leak its jobserver into this make.
    cmd.env_remove("MAKEFLAGS").env_remove("MFLAGS").env_remove("MAKELEVEL");
    cmd
}

/// Temp dir outside the repo; removed at the end unless the test failed.
struct Scratch(PathBuf);
impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("packaging: left {} for inspection", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// The DT_NEEDED entries of an ELF file (None when readelf is missing).
fn needed(bin: &Path) -> Option<Vec<String>> {
    let out = Command::new("readelf").arg("-d").arg(bin).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("(NEEDED)"))
            .filter_map(|l| l.split('[').nth(1).and_then(|s| s.split(']').next()).map(str::to_owned))
            .collect(),
    )
}

fn check_program(what: &str, bin: &Path, ld_library_path: Option<&Path>, expect_shared: bool) {
    if let Some(needed) = needed(bin) {
        let libavs = needed.iter().find(|n| n.contains("libavs"));
        if expect_shared {
            // Recorded as a bare name (libavs.so, or its SONAME once it has one), not the
            // (staging) path it was linked from.
            assert!(libavs.is_some_and(|n| n.starts_with("libavs.so") && !n.contains('/')), "{what}: NEEDED {needed:?}");
        } else {
            assert_eq!(libavs, None, "{what}: linked statically, yet NEEDED {needed:?}");
        }
    }
    let mut cmd = Command::new(bin);
    if let Some(dir) = ld_library_path {
        cmd.env("LD_LIBRARY_PATH", dir);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot run {}: {e}", bin.display()));
    assert!(out.status.success(), "{}", show(what, &out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some(format!("version {VERSION}").as_str()), "{what}:\n{stdout}");
    assert!(lines.iter().any(|l| l.starts_with("config_init 0 ") && l.len() > "config_init 0 ".len()), "{what}:\n{stdout}");
    assert!(lines.iter().any(|l| l.starts_with("null_config ") && *l != "null_config 0"), "{what}: NULL accepted\n{stdout}");
    let s1 = lines.iter().find_map(|l| l.strip_prefix("status_1 ")).unwrap_or("");
    assert!(!s1.is_empty() && s1 != "unknown status", "{what}: avs_status_str(1) = {s1:?}\n{stdout}");
}

fn cmake_app(dir: &Path, prefix: &Path, extra: &[&str]) -> PathBuf {
    let (major, minor) = {
        let mut it = VERSION.split('.');
        (it.next().unwrap(), it.next().unwrap())
    };
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("main.c"), MAIN_C).unwrap();
    fs::write(
        dir.join("CMakeLists.txt"),
        format!(
            r#"cmake_minimum_required(VERSION 3.13)
project(avs_packaging_app C)
find_package(avs 999 QUIET)
if(avs_FOUND)
  message(FATAL_ERROR "avsConfigVersion.cmake accepted version 999")
endif()
find_package(avs {major}.{minor} REQUIRED)
message(STATUS "avs_DIR=${{avs_DIR}}")
add_executable(app main.c)
target_link_libraries(app PRIVATE avs::avs)
"#
        ),
    )
    .unwrap();
    let build = dir.join("build");
    let configure = run(
        "cmake configure",
        Command::new("cmake")
            .arg("-S")
            .arg(dir)
            .arg("-B")
            .arg(&build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
            .args(extra),
    );
    let avs_dir = prefix.join("lib/cmake/avs");
    assert!(configure.contains(&format!("avs_DIR={}", avs_dir.display())), "found another avs package:\n{configure}");
    run("cmake --build", Command::new("cmake").arg("--build").arg(&build));
    build.join("app")
}

fn installed_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                dirs.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn make_install_gives_a_pkg_config_and_cmake_package() {
    for tool in ["cmake", "pkg-config"] {
        if !have(tool) {
            eprintln!("packaging: SKIPPED: `{tool}` is not installed (scripts/deps.sh installs it)");
            return;
        }
    }
    let t0 = Instant::now();
    let scratch = Scratch(std::env::temp_dir().join(format!("avs-packaging-{}", std::process::id())));
    let tmp = &scratch.0;
    let _ = fs::remove_dir_all(tmp);
    fs::create_dir_all(tmp).unwrap();
    assert!(!tmp.starts_with(repo()), "the scratch dir must be outside the repo");

    run("make (cargo build --release --lib)", &mut make(&[]));

    // 1. Firmware style: static only, staged under DESTDIR with PREFIX=/usr.
    let stage = tmp.join("stage");
    let stage_args = [format!("DESTDIR={}", stage.display()), "PREFIX=/usr".to_owned(), "INSTALL_SHARED=0".to_owned()];
    let stage_args: Vec<&str> = stage_args.iter().map(String::as_str).collect();
    run("make install (DESTDIR, static only)", make(&["install"]).args(&stage_args));
    let usr = stage.join("usr");
    for f in ["lib/libavs.a", "include/avs.h", "lib/pkgconfig/avs.pc", "lib/cmake/avs/avsConfig.cmake", "lib/cmake/avs/avsConfigVersion.cmake"] {
        assert!(usr.join(f).is_file(), "{f} not installed");
    }
    assert!(!usr.join("lib/libavs.so").exists(), "INSTALL_SHARED=0 installed libavs.so");
    let pc = fs::read_to_string(usr.join("lib/pkgconfig/avs.pc")).unwrap();
    assert!(pc.contains("prefix=/usr\n") && pc.contains(&format!("Version: {VERSION}\n")), "{pc}");

    let app = tmp.join("pkg-config-static");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("main.c"), MAIN_C).unwrap();
    let pc_dir = usr.join("lib/pkgconfig");
    let pkg_env = |cmd: &mut Command| {
        cmd.env("PKG_CONFIG_PATH", &pc_dir)
            .env("PKG_CONFIG_LIBDIR", &pc_dir)
            .env("PKG_CONFIG_SYSROOT_DIR", &stage)
            // freedesktop pkg-config drops -I/usr/include, -L/usr/lib before adding the sysroot
            .env("PKG_CONFIG_ALLOW_SYSTEM_CFLAGS", "1")
            .env("PKG_CONFIG_ALLOW_SYSTEM_LIBS", "1");
    };
    let mut cmd = Command::new("pkg-config");
    pkg_env(cmd.args(["--modversion", "avs"]));
    assert_eq!(run("pkg-config --modversion", &mut cmd).trim(), VERSION);
    let mut cmd = Command::new("pkg-config");
    pkg_env(cmd.args(["--cflags", "--libs", "--static", "avs"]));
    let flags = run("pkg-config --static", &mut cmd);
    assert!(flags.contains(&format!("-I{}", usr.join("include").display())), "{flags}");
    assert!(flags.contains("-lavs") && flags.contains("-lpthread") && flags.contains("-ldl"), "{flags}");
    let mut cmd = Command::new("sh");
    pkg_env(cmd.current_dir(&app).args(["-c", "${CC:-cc} -o app main.c $(pkg-config --cflags --libs --static avs)"]));
    run("cc $(pkg-config --static)", &mut cmd);
    check_program("pkg-config --static", &app.join("app"), None, false);

    // CMake from the staged tree (relocatable), avs::avs = static.
    let bin = cmake_app(&tmp.join("cmake-static"), &usr, &[]);
    check_program("cmake static", &bin, None, false);

    run("make uninstall (DESTDIR)", make(&["uninstall"]).args(&stage_args));
    let left = installed_files(&stage);
    assert!(left.is_empty(), "make uninstall left {left:?}");

    // 2. Plain PREFIX install with both libraries.
    let prefix = tmp.join("prefix");
    let prefix_arg = format!("PREFIX={}", prefix.display());
    run("make install (PREFIX)", &mut make(&["install", &prefix_arg]));
    let libdir = prefix.join("lib");
    assert!(libdir.join("libavs.so").is_file() && libdir.join("libavs.a").is_file());

    let app = tmp.join("pkg-config-shared");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("main.c"), MAIN_C).unwrap();
    run(
        "cc $(pkg-config) shared",
        Command::new("sh")
            .current_dir(&app)
            .env("PKG_CONFIG_PATH", libdir.join("pkgconfig"))
            .env("PKG_CONFIG_LIBDIR", libdir.join("pkgconfig"))
            .args(["-c", "${CC:-cc} -o app main.c $(pkg-config --cflags --libs avs)"]),
    );
    check_program("pkg-config shared", &app.join("app"), Some(&libdir), true);

    let bin = cmake_app(&tmp.join("cmake-shared"), &prefix, &["-DAVS_USE_SHARED=ON"]);
    check_program("cmake shared", &bin, Some(&libdir), true);

    run("make uninstall (PREFIX)", &mut make(&["uninstall", &prefix_arg]));
    let left = installed_files(&prefix);
    assert!(left.is_empty(), "make uninstall left {left:?}");
    eprintln!("packaging: total {:.1?}", t0.elapsed());
}
