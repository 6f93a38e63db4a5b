//! Quick experiment driver: `cargo run --example try_copy -- DELAY METHOD BITS HIDDEN LR STEPS [opt] [act]`.
use qornn_quant::bptt::Activation;
use qornn_quant::optim::OptimizerKind;
use qornn_quant::tasks::TaskSpec;
use qornn_quant::train::{Method, TrainConfig, Trainer};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let get = |i: usize, d: &str| a.get(i).cloned().unwrap_or_else(|| d.to_string());
    let delay: usize = get(1, "10").parse().unwrap();
    let method = Method::parse(&get(2, "ste-bjorck")).unwrap();
    let mut cfg = TrainConfig::new(TaskSpec::Copy { delay }, method, get(4, "64").parse().unwrap());
    cfg.bits = get(3, "4").parse().unwrap();
    cfg.schedule.lr = get(5, "1e-3").parse().unwrap();
    cfg.steps = get(6, "2000").parse().unwrap();
    cfg.optimizer = if get(7, "rmsprop") == "adam" { OptimizerKind::Adam } else { OptimizerKind::Rmsprop };
    cfg.activation = if get(8, "relu") == "modrelu" { Activation::Modrelu } else { Activation::Relu };
    cfg.ortho_lr_factor = get(9, "1").parse().unwrap();
    cfg.eval_every = 100;
    cfg.test_limit = 500;
    let mut t = Trainer::new(cfg).unwrap();
    t.run(|_, _| true, |_, m| {
        println!("{}", serde_json::to_string(m).unwrap());
        true
    }).unwrap();
}
