//! Emit a core for a random model: `cargo run -p qornn-hdl --example emit -- N M D P OUT.v`.
use qornn_hdl::{verilog, CoreOptions};
use qornn_sim::random::{random_model, RandomSpec};
use qornn_sim::Shape;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .take(4)
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    let out = std::env::args().nth(5).ok_or("usage: N M D P OUT.v")?;
    let model = random_model(&RandomSpec::new(Shape::new(a[0], a[1], a[2]), 4, 1));
    let v = verilog::emit(&model, &CoreOptions::new(a[3]), "qornn_core")?;
    std::fs::write(out, v)?;
    Ok(())
}
