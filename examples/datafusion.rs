//! qjit's kernels inside a DataFusion session: one call adds qjit's optimizer rule, and the
//! filters and projections of every query run as compiled kernels where qjit computes them
//! exactly.
//!
//! `cargo run --release --example datafusion`

use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    runtime.block_on(async {
        // The one line an embedder adds: qjit's rule, after DataFusion's own.
        let state = qjit::datafusion::with_qjit(
            SessionStateBuilder::new().with_default_features(),
            qjit::Engine::new(),
        )
        .build();
        let ctx = SessionContext::new_with_state(state);
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data/lineitem.parquet");
        ctx.register_parquet("lineitem", data, ParquetReadOptions::default())
            .await?;

        let sql = "SELECT l_returnflag, sum(l_extendedprice * (1 - l_discount)) AS revenue \
                   FROM lineitem \
                   WHERE l_shipdate < DATE '1995-01-01' AND l_discount BETWEEN 0.05 AND 0.07 \
                   GROUP BY l_returnflag ORDER BY l_returnflag";
        let frame = ctx.sql(sql).await?;
        let plan = frame.clone().create_physical_plan().await?;
        for kernel in qjit::datafusion::kernels(&plan) {
            println!("compiled: {}", kernel.original());
        }
        frame.show().await?;
        Ok(())
    })
}
