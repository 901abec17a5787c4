//! `floe-ledger bench`: TODO
use clap::Args;

/// Benchmark options.
#[derive(Args)]
pub struct BenchArgs {
    /// Validators to start.
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Seconds to drive each workload.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
}

pub async fn run(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
