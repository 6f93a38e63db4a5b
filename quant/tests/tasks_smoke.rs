//! Every task trains end to end in a few steps and exports an integer model the golden
//! simulator agrees with (adding: regression read at the last step; charlm: per-step classes).

use crate::train_copy::adam_modrelu;
use qornn_quant::tasks::TaskSpec;
use qornn_quant::train::{Method, Trainer};

fn small(task: TaskSpec, method: Method, steps: u64) -> Trainer {
    let mut c = adam_modrelu(task, method, 24);
    c.batch = 32;
    c.steps = steps;
    c.eval_every = steps;
    c.test_limit = 128;
    c.bits = 6;
    c.clip = 1.0;
    let mut t = Trainer::new(c).expect("config");
    t.run(|_, _| true, |_, _| true).expect("training");
    t
}

#[test]
fn adding_task_learns_and_exports() {
    let mut t = small(TaskSpec::Adding { steps: 20 }, Method::SteBjorck, 800);
    let m = t.history.last().expect("evaluated").clone();
    // the memoryless baseline (always answer 1) has MSE 1/6
    assert!(m.test_loss < 0.5 / 6.0, "adding MSE {}", m.test_loss);
    let rows = t.ptq_table(&[12]).expect("export");
    let r = &rows[0];
    assert!(
        (r.integer.loss - r.fake_quant.loss).abs() < 0.2 * r.fake_quant.loss + 1e-3,
        "{r:?}"
    );
}

#[test]
fn char_lm_learns_and_exports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("text.txt");
    std::fs::write(&path, "abcabcabdabcabcabd ".repeat(200)).expect("write");
    let mut t = small(
        TaskSpec::CharLm { path, steps: 16 },
        Method::SteProjunnT,
        150,
    );
    let m = t.history.last().expect("evaluated").clone();
    let uniform = (5f64).ln(); // 5 distinct bytes
    assert!(
        m.test_loss < 0.6 * uniform,
        "charlm loss {} nats",
        m.test_loss
    );
    let rows = t.ptq_table(&[12]).expect("export");
    let r = &rows[0];
    assert!(
        (r.integer.accuracy - r.fake_quant.accuracy).abs() <= 0.03,
        "{r:?}"
    );
}

#[test]
fn projunn_training_keeps_w_orthogonal() {
    for method in [Method::FpProjunnD, Method::FpProjunnT] {
        let t = small(TaskSpec::Copy { delay: 5 }, method, 100);
        let m = t.history.last().expect("evaluated");
        assert!(
            m.ortho_error < 1e-3,
            "{method:?}: ‖WᵀW − I‖ = {}",
            m.ortho_error
        );
    }
}
