//! Process lifecycle helpers shared by Floe's binaries (`floe-ledger`, `floe-node`,
//! `floe-devnet`, `floe`): logging setup and signal-driven shutdown.

use tokio_util::sync::CancellationToken;

/// Logs to stderr with `tracing`, filtered by `RUST_LOG` or else `default` (e.g. `"info"`);
/// colours only on a terminal.
pub fn init_tracing(default: &str) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// A token cancelled on SIGINT, SIGTERM or SIGHUP. The handlers are installed before this
/// returns, so no signal in between takes the default action (exit without cleanup). Must be
/// called inside a tokio runtime.
pub fn cancel_on_signal() -> std::io::Result<CancellationToken> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        tracing::info!("shutting down");
        token.cancel();
    });
    Ok(cancel)
}
