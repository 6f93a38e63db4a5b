//! DSP cells written by hand: ECP5's MULT18X18D with its own input and output registers.
//!
//! yosys maps `*` to MULT18X18D on ECP5 but leaves the operand and product registers in the
//! fabric, so each product crosses the routing into the DSP column and back within one clock
//! and the speed depends on the placer. A lane whose registers are the block's own
//! (`REG_INPUTA_CLK`, `REG_INPUTB_CLK`, `REG_OUTPUT_CLK` = CLK0) has the same two clocks of
//! latency with the multiplier timed inside the block. Lattice's primitive has no simulation
//! model in yosys' library, so [`MULT18X18D_SIM`] is one for the configuration used here, in
//! the emitted file behind `ifndef SYNTHESIS` (yosys defines SYNTHESIS and uses its own cell).

/// Bit ports `{name}0`…`{name}{n−1}` connected to `{wire}[i]`.
fn bit_ports(name: &str, wire: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!(".{name}{i}({wire}[{i}])"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A registered signed 16×16 product on one MULT18X18D: `{a16}` and `{b16}` (16-bit signed
/// expressions) enter its input registers at a clock edge, and `prod` (a `wire signed [31:0]`
/// declared by the caller) shows their product one edge later, like
/// `o_a <= a; o_b <= b; prod <= o_a * o_b;` in the fabric.
pub fn mult18x18d(instance: &str, a16: &str, b16: &str, prod: &str) -> String {
    format!(
        "// The product in one MULT18X18D, its input and output registers enabled (docs/core.md).
wire signed [15:0] {instance}_a16 = {a16};
wire signed [15:0] {instance}_b16 = {b16};
wire [17:0] {instance}_a = {{{{2{{{instance}_a16[15]}}}}, {instance}_a16}};
wire [17:0] {instance}_b = {{{{2{{{instance}_b16[15]}}}}, {instance}_b16}};
wire [35:0] {instance}_p;
MULT18X18D #(.REG_INPUTA_CLK(\"CLK0\"), .REG_INPUTB_CLK(\"CLK0\"), .REG_PIPELINE_CLK(\"NONE\"),
   .REG_OUTPUT_CLK(\"CLK0\"), .GSR(\"DISABLED\")) {instance} (
   {a}, {b},
   .SIGNEDA(1'b1), .SIGNEDB(1'b1), .SOURCEA(1'b0), .SOURCEB(1'b0),
   .CLK0(clock), .CE0(1'b1), .RST0(1'b0),
   {p});
assign {prod} = {instance}_p[31:0];
",
        a = bit_ports("A", &format!("{instance}_a"), 18),
        b = bit_ports("B", &format!("{instance}_b"), 18),
        p = bit_ports("P", &format!("{instance}_p"), 36),
    )
}

/// A behavioural MULT18X18D for simulators: the ports [`mult18x18d`] connects, signed or
/// unsigned operands, input and output registers on CLK0 (with CE0, synchronous RST0) or none.
/// Not for synthesis: yosys, which defines SYNTHESIS, skips it and uses its own cell.
pub const MULT18X18D_SIM: &str = r#"`ifndef SYNTHESIS
// Simulation model of the ECP5 MULT18X18D (Lattice TN1267), the subset qornn instantiates:
// A and B 18 bits, SIGNEDA/SIGNEDB, input and output registers on CLK0 or "NONE", no pipeline
// register. Synthesis uses the vendor cell instead.
/* verilator lint_off UNUSED */
/* verilator lint_off DECLFILENAME */
module MULT18X18D #(
  parameter REG_INPUTA_CLK = "NONE", parameter REG_INPUTB_CLK = "NONE",
  parameter REG_PIPELINE_CLK = "NONE", parameter REG_OUTPUT_CLK = "NONE",
  parameter GSR = "ENABLED"
) (
  input A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, A16, A17,
  input B0, B1, B2, B3, B4, B5, B6, B7, B8, B9, B10, B11, B12, B13, B14, B15, B16, B17,
  input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB, CLK0, CE0, RST0,
  output P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, P11, P12, P13, P14, P15, P16, P17,
  output P18, P19, P20, P21, P22, P23, P24, P25, P26, P27, P28, P29, P30, P31, P32, P33, P34,
  output P35
);
  wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
  wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
  reg [17:0] a_r = 0, b_r = 0;
  reg sa_r = 0, sb_r = 0;
  reg [35:0] p_r = 0;
  always @(posedge CLK0) begin
    if (RST0) begin a_r <= 0; b_r <= 0; sa_r <= 0; sb_r <= 0; end
    else if (CE0) begin a_r <= a; b_r <= b; sa_r <= SIGNEDA; sb_r <= SIGNEDB; end
  end
  wire [17:0] a_i = REG_INPUTA_CLK == "NONE" ? a : a_r;
  wire [17:0] b_i = REG_INPUTB_CLK == "NONE" ? b : b_r;
  wire sa_i = REG_INPUTA_CLK == "NONE" ? SIGNEDA : sa_r;
  wire sb_i = REG_INPUTB_CLK == "NONE" ? SIGNEDB : sb_r;
  wire signed [37:0] full = $signed({sa_i & a_i[17], a_i}) * $signed({sb_i & b_i[17], b_i});
  always @(posedge CLK0) begin
    if (RST0) p_r <= 0;
    else if (CE0) p_r <= full[35:0];
  end
  wire [35:0] p = REG_OUTPUT_CLK == "NONE" ? full[35:0] : p_r;
  assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18,
          P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;
endmodule
/* verilator lint_on DECLFILENAME */
/* verilator lint_on UNUSED */
`endif
"#;
