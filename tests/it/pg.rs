//! Throwaway PostgreSQL clusters for tests (also compiled into the
//! library's unit tests). `initdb` runs once per PostgreSQL version into a
//! cached template; each [`Postgres`] copies it into a directory of its own
//! (in `/dev/shm` when it has room: a copy takes 0.1 s there, over a second
//! on a busy disk) and starts a postmaster on a loopback port
//! (no Unix socket, `fsync` off: the tests crash processes, not machines),
//! as the `postgres` user when the tests run as root (PostgreSQL refuses
//! root). Dropping it stops the cluster and removes its files.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A running throwaway cluster.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
    port: AtomicU16,
    child: Mutex<Option<Child>>,
}

impl Postgres {
    /// Starts a fresh cluster (a copy of the template).
    pub fn start() -> Postgres {
        let (bin, version) = binaries();
        let owner = owner();
        let template = template(&bin, &version, owner);
        let dir = tempfile::Builder::new()
            .prefix("imbridge-pg-")
            .tempdir_in(scratch())
            .expect("temp dir");
        // The postgres user must reach its data directory inside.
        run(Command::new("chmod").arg("755").arg(dir.path()));
        run(Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(dir.path().join("data")));
        let pg = Postgres {
            dir,
            bin,
            owner,
            port: AtomicU16::new(0),
            child: Mutex::new(None),
        };
        pg.run();
        pg
    }

    /// The URL of database `postgres` (trust authentication, user `postgres`).
    pub fn url(&self) -> String {
        let port = self.port.load(Ordering::Relaxed);
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    }

    /// Stops the server (fast shutdown: sessions are cut, committed data stays).
    pub fn stop(&self) {
        let Some(mut child) = self.child.lock().expect("child").take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts it again on the same port and files.
    pub fn restart(&self) {
        self.stop();
        self.run();
    }

    /// Starts the postmaster (on a new port the first time) and waits until
    /// it accepts connections.
    fn run(&self) {
        for _ in 0..5 {
            let port = match self.port.load(Ordering::Relaxed) {
                0 => crate::ports::free_port(),
                port => port,
            };
            let mut cmd = Command::new(self.bin.join("postgres"));
            cmd.current_dir(self.dir.path())
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-h", "127.0.0.1", "-k", "", "-p", &port.to_string()])
                .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
                .args(["-c", "shared_buffers=16MB", "-c", "logging_collector=off"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file(&self.dir.path().join("log")));
            if let Some((uid, gid)) = self.owner {
                cmd.uid(uid).gid(gid);
            }
            let mut child = cmd.spawn().expect("start postgres");
            if self.wait_ready(port, &mut child) {
                self.port.store(port, Ordering::Relaxed);
                *self.child.lock().expect("child") = Some(child);
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
        panic!("postgres did not start:\n{log}");
    }

    fn wait_ready(&self, port: u16, child: &mut Child) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The newest installed PostgreSQL's bin directory and version.
fn binaries() -> (PathBuf, String) {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    let (version, bin) = found
        .pop()
        .expect("PostgreSQL is not installed: run .ci/setup --tests");
    (bin, version.to_string())
}

/// The uid and gid to run PostgreSQL as: `postgres`'s when we are root.
fn owner() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").arg(flag).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    if id("-u")? != 0 {
        return None;
    }
    let numeric = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id postgres");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("the postgres user exists (install PostgreSQL: .ci/setup --tests)")
    };
    Some((numeric("-u"), numeric("-g")))
}

/// The cached template cluster of `version`, made on first use (a
/// concurrent first use makes its own and keeps whichever lands first).
fn template(bin: &Path, version: &str, owner: Option<(u32, u32)>) -> PathBuf {
    let user = owner.map_or_else(|| "user".to_owned(), |(uid, _)| uid.to_string());
    let path = scratch().join(format!("imbridge-pg-template-{version}-{user}"));
    if path.join("PG_VERSION").exists() {
        return path;
    }
    let partial = scratch().join(format!(
        "imbridge-pg-template-{version}-{user}.{}",
        std::process::id()
    ));
    let mut cmd = Command::new(bin.join("initdb"));
    cmd.current_dir(std::env::temp_dir())
        .arg("-D")
        .arg(&partial)
        .args(["-U", "postgres", "--auth=trust", "--no-sync", "--locale=C"])
        .args(["--encoding=UTF8", "--wal-segsize=1"])
        .stdout(Stdio::null())
        .stderr(log_file(&partial.with_extension("log")));
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid);
    }
    let status = cmd.status().expect("run initdb");
    assert!(
        status.success(),
        "initdb failed: {}",
        std::fs::read_to_string(partial.with_extension("log")).unwrap_or_default()
    );
    let _ = std::fs::remove_file(partial.with_extension("log"));
    if std::fs::rename(&partial, &path).is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    path
}

/// Where clusters live: `/dev/shm` when it has 1 GB free, else the temp
/// directory.
fn scratch() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let free = Command::new("df")
        .args(["--output=avail", "-B1M"])
        .arg(shm)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|o| o.lines().nth(1)?.trim().parse::<u64>().ok());
    match free {
        Some(mb) if mb >= 1024 => shm.to_owned(),
        _ => std::env::temp_dir(),
    }
}

fn log_file(path: &Path) -> Stdio {
    std::fs::File::create(path).map_or_else(|_| Stdio::null(), Stdio::from)
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
