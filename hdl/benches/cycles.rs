//! Simulated clock cycles per second of the rust-hdl core (n = 64, P = 8, the goal:
//! at least 50 k cycles/s). A plain bench binary: `cargo bench -p qornn-hdl --bench cycles`.

use qornn_hdl::harness::Driver;
use qornn_hdl::{CoreOptions, QornnCore};
use qornn_sim::random::{random_model, random_sequences, RandomSpec};
use qornn_sim::Shape;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for (n, m, d, p) in [
        (64usize, 1usize, 10usize, 8usize),
        (64, 1, 10, 1),
        (128, 2, 10, 8),
    ] {
        let model = random_model(&RandomSpec::new(Shape::new(n, m, d), 4, 1));
        let core = QornnCore::new(&model, &CoreOptions::new(p))?;
        let per_step = core.config().cycles_per_step();
        let seqs = random_sequences(&model, 1, 60, 1);
        let mut drv: Driver<std::io::Sink> = Driver::new(core, None);
        drv.reset()?;
        let start = Instant::now();
        let c0 = drv.cycles();
        for t in 0..seqs[0].steps() {
            drv.step(seqs[0].step(t), t == 0)?;
        }
        let cycles = drv.cycles() - c0;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "n={n:3} m={m} d={d:2} P={p}: {cycles} cycles in {secs:.3} s = {:.0} cycles/s ({per_step} cycles/step, {:.0} steps/s)",
            cycles as f64 / secs,
            seqs[0].steps() as f64 / secs
        );
    }
    Ok(())
}
