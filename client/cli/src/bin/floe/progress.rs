//! Progress bars on stderr for stores and reads: a spinner naming the step, and a bar with bytes
//! and rate while slivers move. Shown only for people: not with `--json`, and not when stdout is
//! not a terminal (scripts, pipes, redirections).

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

use floe_client::blobs::{Progress, ProgressHook};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether progress bars are shown.
pub fn wanted(json: bool) -> bool {
    !json && std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

/// One store's or read's bar.
pub struct Bar {
    bar: ProgressBar,
    label: String,
}

impl std::fmt::Debug for Bar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bar").field("label", &self.label).finish()
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template")
}

fn bytes_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{msg} [{wide_bar}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )
    .expect("valid template")
    .progress_chars("=> ")
}

impl Bar {
    /// A bar labelled `label` (a file name or blob id), or `None` when bars are not wanted.
    pub fn start(show: bool, label: impl Into<String>) -> Option<Arc<Bar>> {
        if !show {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(spinner_style());
        bar.enable_steady_tick(Duration::from_millis(120));
        Some(Arc::new(Bar {
            bar,
            label: label.into(),
        }))
    }

    /// The bar as the SDK's progress observer.
    pub fn hook(bar: Option<&Arc<Bar>>) -> Option<ProgressHook> {
        bar.map(|b| b.clone() as ProgressHook)
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn phase(&self, phase: &'static str) {
        let what = match phase {
            "encode" => "encoding",
            "register" => "paying and registering",
            "upload" => "uploading",
            "certify" => "certifying",
            "metadata" => "fetching metadata",
            "slivers" => "downloading",
            "decode" => "decoding",
            other => other,
        };
        if matches!(phase, "certify" | "decode") {
            self.bar.set_style(spinner_style());
        }
        self.bar.set_message(format!("{}: {what}", self.label));
    }

    fn transfer(&self, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(0);
        self.bar.reset_eta();
        self.bar.set_style(bytes_style());
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_valid_and_hidden_bars_cost_nothing() {
        let _ = spinner_style();
        let _ = bytes_style();
        assert!(Bar::start(false, "x").is_none());
        let bar = Bar {
            bar: ProgressBar::hidden(),
            label: "blob".into(),
        };
        bar.phase("upload");
        bar.transfer(100);
        bar.advance(40);
        assert_eq!(bar.bar.position(), 40);
        assert_eq!(bar.bar.length(), Some(100));
    }
}
