//! The worked examples of docs/fixed-point.md, computed by hand there, checked here.

use qornn_sim::{Activation, Bits, Golden, QuantizedModel, Sequence};

fn example() -> QuantizedModel {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/example-model.json");
    QuantizedModel::load(std::path::Path::new(path)).unwrap()
}

fn one_step(model: &QuantizedModel, h: &[i32], x: &[i32]) -> (Vec<i32>, Vec<i64>) {
    let golden = Golden::new(model).unwrap();
    let mut state = golden.state_with(h);
    golden.step(&mut state, x);
    let mut y = vec![0; model.shape.output];
    golden.output_into(&state, &mut y);
    (state.hidden().to_vec(), y)
}

#[test]
fn relu_step_of_section_4() {
    let (h, y) = one_step(&example(), &[10, 3], &[5]);
    assert_eq!(h, vec![22, 19]);
    assert_eq!(y, vec![-11]);
}

#[test]
fn modrelu_step_of_section_4() {
    let mut m = example();
    m.activation = Activation::Modrelu {
        bias: vec![-20, -60],
    };
    assert_eq!(one_step(&m, &[10, 3], &[5]).0, vec![15, 0]);
}

#[test]
fn saturation_of_section_4() {
    let mut m = example();
    m.bits.activation = Bits::new(4);
    assert_eq!(one_step(&m, &[7, 3], &[5]).0, vec![7, 7]);
}

#[test]
fn negative_tie_of_section_4() {
    // acc = -6 (bias only), β = 0, M = 1, r = 2: -1.5 rounds to the even -2.
    let mut m = example();
    m.w = vec![vec![0, 0], vec![0, 0]];
    m.u = vec![vec![0], vec![0]];
    m.b = vec![-6, -6];
    m.activation = Activation::Modrelu { bias: vec![0, 0] };
    m.requant.multiplier = 1;
    m.requant.shift = 2;
    assert_eq!(one_step(&m, &[0, 0], &[0]).0, vec![-2, -2]);
}

#[test]
fn sequences_start_from_zero_state() {
    // From h0 = 0 with x = 5: acc = (40 + 4, -20 - 6) = (44, -26) -> ReLU (44, 0)
    // -> 44·3/8 = 16.5 -> 16 (tie to even), 0. Then y = 16 + 5 = 21.
    let golden = Golden::new(&example()).unwrap();
    let trace = golden.run(&Sequence::from_flat(1, vec![5]));
    assert_eq!(trace.h(0), &[16, 0]);
    assert_eq!(trace.y(0), &[21]);
}
