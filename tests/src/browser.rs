//! A headless Chromium driven over the DevTools protocol, for browser tests.
//!
//! Chromium is started with `--remote-debugging-pipe`: it reads commands from file descriptor 3
//! and writes answers and events to descriptor 4, each a JSON message ended by a NUL byte. That
//! needs no WebSocket and no extra crate. One page target is attached in flattened mode, so
//! every command carries its `sessionId`.
//!
//! The browser is found at `$CHROMIUM`, else `chromium` or `chromium-browser` on the `PATH`
//! (Debian: `apt-get install chromium`).

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one command may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A running headless browser with one page.
pub struct Browser {
    child: Child,
    to_browser: std::io::PipeWriter,
    from_browser: mpsc::Receiver<Value>,
    session: String,
    next_id: u64,
    _profile: tempfile::TempDir,
}

/// The Chromium binary, if there is one.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
        .find(|p| p.is_file())
}

impl Browser {
    /// Starts `binary` headless with an empty profile and attaches to a blank page.
    pub fn start(binary: &Path) -> std::io::Result<Browser> {
        let profile = tempfile::tempdir()?;
        // Descriptor 3: commands to the browser; descriptor 4: its messages.
        let (cmd_read, cmd_write) = std::io::pipe()?;
        let (msg_read, msg_write) = std::io::pipe()?;
        let (cmd_read, msg_write): (OwnedFd, OwnedFd) = (cmd_read.into(), msg_write.into());
        let (r, w) = (cmd_read.as_raw_fd(), msg_write.as_raw_fd());
        let mut command = Command::new(binary);
        command
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-pipe",
                "--window-size=1024,768",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec the closure only calls dup2, which is
        // async-signal-safe, on descriptors that stay open until after the spawn.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        drop((cmd_read, msg_write));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(msg_read);
            loop {
                let mut buf = Vec::new();
                match reader.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        buf.pop();
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                            && tx.send(v).is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            to_browser: cmd_write,
            from_browser: rx,
            session: String::new(),
            next_id: 0,
            _profile: profile,
        };
        let target = b.call("Target.createTarget", json!({ "url": "about:blank" }))?;
        let target_id = target["targetId"].as_str().unwrap_or_default().to_owned();
        let attached = b.call(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        )?;
        b.session = attached["sessionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        b.call("Page.enable", json!({}))?;
        b.call("Runtime.enable", json!({}))?;
        Ok(b)
    }

    /// Sends a command (to the page once attached) and waits for its result.
    pub fn call(&mut self, method: &str, params: Value) -> std::io::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method });
        msg["params"] = params;
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg)?;
        bytes.push(0);
        self.to_browser.write_all(&bytes)?;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .from_browser
                .recv_timeout(left)
                .map_err(|e| std::io::Error::other(format!("{method}: no answer: {e}")))?;
            if v["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(err) = v.get("error") {
                return Err(std::io::Error::other(format!("{method}: {err}")));
            }
            return Ok(v["result"].clone());
        }
    }

    /// Evaluates `expression` in the page and returns its value (promises awaited).
    pub fn eval(&mut self, expression: &str) -> std::io::Result<Value> {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(std::io::Error::other(format!("{expression}: {e}")));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Opens `url` and waits until the page (with its images, styles and scripts) has loaded.
    pub fn open(&mut self, url: &str) -> std::io::Result<()> {
        let r = self.call("Page.navigate", json!({ "url": url }))?;
        if let Some(e) = r.get("errorText") {
            return Err(std::io::Error::other(format!("{url}: {e}")));
        }
        self.wait_loaded(url)
    }

    /// Waits until the page's document is `url` (a full URL, or a path) and complete, with its
    /// body parsed.
    pub fn wait_loaded(&mut self, url: &str) -> std::io::Result<()> {
        let deadline = Instant::now() + TIMEOUT;
        let check = format!(
            "(location.href === {u} || location.pathname === {u}) && \
             document.readyState === 'complete' && document.body !== null",
            u = serde_json::to_string(url)?
        );
        while Instant::now() < deadline {
            if self.eval(&check)? == json!(true) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(std::io::Error::other(format!(
            "{url}: did not finish loading"
        )))
    }

    /// A PNG screenshot of the page.
    pub fn screenshot(&mut self) -> std::io::Result<Vec<u8>> {
        use base64::Engine as _;
        let r = self.call("Page.captureScreenshot", json!({ "format": "png" }))?;
        base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap_or_default())
            .map_err(std::io::Error::other)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
