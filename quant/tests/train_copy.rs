//! The CI training run of issue 6: copy task, n = 64, T0 = 10, 4-bit STE-Björck, fixed seed.
//!
//! Done when the test loss is below half the memoryless baseline 10·ln 8/(T0+20), the
//! copied-symbol accuracy is at least 80 %, and the exported integer model, run in the golden
//! simulator, gets the same copied-symbol accuracy as the fake-quantised float model within
//! 2 percentage points (stated tolerance), at 12-bit activations.

use qornn_quant::bptt::Activation;
use qornn_quant::optim::OptimizerKind;
use qornn_quant::tasks::TaskSpec;
use qornn_quant::train::{Method, TrainConfig, Trainer};

/// The settings the short training tests share: modReLU and Adam at lr 3·10⁻³ (the library's
/// defaults are ReLU and RMSprop at 10⁻³, too slow for a test budget).
pub(crate) fn adam_modrelu(task: TaskSpec, method: Method, hidden: usize) -> TrainConfig {
    let mut cfg = TrainConfig::new(task, method, hidden);
    cfg.activation = Activation::Modrelu;
    cfg.optimizer = OptimizerKind::Adam;
    cfg.schedule.lr = 3e-3;
    cfg
}

#[test]
fn copy_task_ste_bjorck_4bit_trains_and_exports() {
    let mut cfg = adam_modrelu(TaskSpec::Copy { delay: 10 }, Method::SteBjorck, 64);
    cfg.bits = 4;
    cfg.output_bits = 8;
    cfg.batch = 128;
    cfg.steps = 1500;
    cfg.eval_every = 500;
    cfg.test_limit = 1000;
    cfg.seed = 7;
    let mut t = Trainer::new(cfg).expect("config");
    t.run(|_, _| true, |_, _| true).expect("training");
    let last = t.history.last().expect("an evaluation").clone();
    let baseline = last.baseline.expect("copy has a baseline");
    eprintln!("after {} steps: {last:?}", t.step);
    assert!(
        last.test_loss < 0.5 * baseline,
        "test loss {} not below half the baseline {}",
        last.test_loss,
        baseline
    );
    assert!(
        last.test_acc >= 0.8,
        "copied-symbol accuracy {}",
        last.test_acc
    );
    // W stays close to orthogonal through the Björck iterations
    assert!(last.ortho_error < 1e-2, "‖WᵀW − I‖ = {}", last.ortho_error);

    let rows = t.ptq_table(&[12, 8]).expect("export");
    for r in &rows {
        eprintln!("{r:?}");
    }
    let r12 = &rows[0];
    assert!(r12.float.accuracy >= 0.8);
    assert!(
        (r12.integer.accuracy - r12.fake_quant.accuracy).abs() <= 0.02,
        "golden {} vs fake-quant {}",
        r12.integer.accuracy,
        r12.fake_quant.accuracy
    );
    assert!(
        r12.integer.accuracy >= 0.8,
        "integer accuracy {}",
        r12.integer.accuracy
    );

    // the exported file round-trips through the contract's loader
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.json");
    let max_h = t.calibrate().expect("calibrate");
    let exp = t.export(12, max_h).expect("export");
    exp.model.save(&path).expect("save");
    let back = qornn_sim::QuantizedModel::load(&path).expect("load");
    assert_eq!(back, exp.model);
}

/// A long delay: T0 = 200 at 4 bits, n = 64. From Haar-random or Henaff initialisations the
/// quantised W is not norm-preserving and such runs stay on the memoryless plateau; from the
/// negated-shift initialisation (exact at every bit width) with W's latent trained 100× more
/// slowly than the rest, the run learns in 1000 steps of 64 sequences.
#[test]
fn copy_task_with_a_long_delay_learns_from_the_shift_initialisation() {
    use qornn_quant::model::Init;
    let mut cfg = TrainConfig::new(TaskSpec::Copy { delay: 200 }, Method::SteBjorck, 64);
    cfg.bits = 4;
    cfg.output_bits = 8;
    cfg.activation = Activation::Modrelu;
    cfg.init = Init::Shift;
    cfg.ortho_lr_factor = 0.01;
    cfg.schedule.lr = 1e-3;
    cfg.batch = 64;
    cfg.steps = 1000;
    cfg.eval_every = 500;
    cfg.test_limit = 256;
    // Two threads: this is the quant binary's longest test, left running alone at its end (on
    // one thread 0.831 test accuracy in 34 s, on two 0.828 in 20 s).
    cfg.threads = 2;
    cfg.seed = 1;
    let mut t = Trainer::new(cfg).expect("config");
    t.run(|_, _| true, |_, _| true).expect("training");
    let last = t.history.last().expect("an evaluation").clone();
    let baseline = last.baseline.expect("copy has a baseline");
    eprintln!("after {} steps: {last:?}", t.step);
    assert!(last.test_loss < 0.5 * baseline, "{last:?}");
    assert!(last.test_acc >= 0.8, "{last:?}");
    let rows = t.ptq_table(&[12]).expect("export");
    let r12 = &rows[0];
    assert!(
        r12.integer.accuracy >= 0.8
            && (r12.integer.accuracy - r12.fake_quant.accuracy).abs() <= 0.02,
        "{r12:?}"
    );
}
