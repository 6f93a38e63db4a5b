//! The framer's Verilog (the body of its module; rust-hdl declares the ports): the same
//! registers as [`super::framer::Framer`]'s `update()`, which the tests hold it to.

use super::framer::{Shape, MODEL_HASH_AT};
use super::protocol::*;
use std::fmt::Write;

/// A protocol byte as a Verilog literal.
fn byte(b: u8) -> String {
    format!("8'h{b:02x}")
}

// The identity table is indexed by snd_idx's low six bits.
const _: () = assert!(IDENTITY_BYTES <= 64);

/// The identity block as a case table on `snd_idx`; with run-time weights the model hash comes
/// from the `loaded_hash` register.
fn identity_rom(identity: &[u8; IDENTITY_BYTES], ram: bool) -> String {
    let mut s = String::new();
    for (i, b) in identity.iter().enumerate() {
        let k = i.wrapping_sub(MODEL_HASH_AT);
        if ram && k < 8 {
            let _ = writeln!(
                s,
                "      {i}: id_byte = loaded_hash[{}:{}];",
                8 * k + 7,
                8 * k
            );
        } else {
            let _ = writeln!(s, "      {i}: id_byte = 8'h{b:02x};");
        }
    }
    s
}

/// The module body.
pub(super) fn body(s: &Shape) -> String {
    let (m, kx, d, ky) = (s.m, s.kx, s.d, s.ky);
    let (xb, yb) = (s.xb, s.yb);
    let (x_bytes, y_bytes) = (s.x_bytes(), s.y_bytes());
    let aw = s.aw;
    let idle_w = s.idle_w;
    let x_unpack = format!(
        "{{{}}}",
        (0..m)
            .rev()
            .map(|j| format!("x_shift[{}:{}]", j * xb * 8 + kx - 1, j * xb * 8))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let clear = format!(
            "pstate <= P_CMD; have_step <= 0; x_valid <= 0; y_full <= 0; y_final <= 0; \
             final_sent <= 0; chk_done <= 0; status_due <= 0; credits <= 0; credits_nz <= 0; credit_give <= 0; keep_d <= 0; \
             snd_kind <= K_NONE; snd_idx <= 0; idle <= {}; abort_now <= 0; \
             rd_valid <= 0; q_valid <= 0; pb_valid <= 0; byte_mark <= 1; load_valid <= 0; chk_load <= 0;",
            s.idle
        );
    let hash0 = format!("64'h{:016x}", s.hash0());
    let pb_load = if s.ram {
        format!("q_data == {}", byte(CMD_LOAD))
    } else {
        "1'b0".to_string()
    };
    let mut v = String::new();
    let _ = write!(
        v,
        r#"// The board's framer, protocol v3 (docs/board.md): FIFO, parser, sender.
  initial begin
    tx_start = 0; tx_data = 0; por_reset = 1; core_reset = 1; x_valid = 0; x_start = 0;
    x_data = 0; y_ready = 0; load_valid = 0; load_first = 0; load_byte = 0;
  end
  // Power-on reset: 16 cycles. `soft_reset` resets the core and the framing after an abandoned frame.
  reg [4:0] por = 0;
  wire reset = !por[4];
  always @(posedge clock) if (!por[4]) por <= por + 1;
  always @(posedge clock) por_reset <= reset;
  reg [2:0] soft_reset = 0;
  // Registered: the core's reset reaches every flop of the core, so it starts at one.
  always @(posedge clock) core_reset <= reset || soft_reset != 0;
  reg soft_quiet = 1;          // soft_reset == 0, registered (cleared with the abort itself)

  // The receive FIFO ({fifo} bytes, one block RAM): bytes wait here while the core works.
  reg [7:0] fifo [0:{fifo_last}];
  reg [{aw}:0] wr_ptr = 0, rd_ptr = 0;
  // Empty and full are registered from the pointers, a cycle late: a read is never issued in
  // the cycle after another (rd_valid), and a write waits at most one cycle longer to be seen.
  reg fifo_empty = 1, fifo_full = 0;
  always @(posedge clock) begin
    fifo_empty <= wr_ptr == rd_ptr;
    fifo_full <= wr_ptr[{aw1}:0] == rd_ptr[{aw1}:0] && wr_ptr[{aw}] != rd_ptr[{aw}];
  end
  wire fifo_we = rx_valid && !fifo_full;
  always @(posedge clock) if (fifo_we) fifo[wr_ptr[{aw1}:0]] <= rx_data;
  // No initial value, as the block RAM's output register has none on the device.
  reg [7:0] rd_data;
  reg rd_valid = 0;
  // The byte again in a fabric register (q_*), away from the RAM's slow output, then once more
  // (pb_*) beside the flags decoded from it, so that the parser's branches start from flops.
  reg [7:0] q_data = 0, pb_data = 0;
  reg q_valid = 0, pb_valid = 0;
  reg pb_step = 0, pb_s = 0, pb_frame = 0, pb_l = 0, pb_id = 0, pb_timer = 0, pb_nz = 0, pb_load = 0;

  // Parser: a command, then (frames) the step count, the steps and the checksum.
  localparam P_CMD = 2'd0, P_LEN = 2'd1, P_PAY = 2'd2, P_CHK = 2'd3;
  localparam M_STEP = 2'd0, M_LAST = 2'd1, M_ALL = 2'd2, M_LOAD = 2'd3;
  reg [1:0] pstate = P_CMD;
  reg [1:0] mode = M_STEP;
  reg [1:0] len_idx = 0;
  reg [31:0] frame_len = 0;    // steps in the frame
  reg [31:0] steps_left = 0;   // steps still to assemble
  reg steps_one = 0;           // steps_left == 1, registered (no wide compare on the path)
  // steps_left − 1, registered: no carry chain in front of steps_left (it changes at most
  // once a byte, so the difference is always ready when it is used).
  reg [31:0] steps_dec = 0;
  reg steps_lo_zero = 0;
  reg len_nz = 0;              // a length byte so far was not zero
  reg frame_empty = 0;         // the frame's length is zero
  // Which byte of a step comes next, one-hot (no counter to compare): bit k for byte k.
  reg [{x_last}:0] byte_mark = 1;
  wire byte_last = byte_mark[{x_last}];
  reg [7:0] sum = 0;
  reg start_next = 0;          // the next assembled step begins a sequence
  reg [{xw}:0] x_shift = 0;    // the step being assembled, low byte first
  reg have_step = 0, step_start = 0;
  wire want_byte = !(pstate == P_PAY && have_step);
  wire fifo_re = !fifo_empty && !rd_valid && !q_valid && !pb_valid && want_byte && soft_quiet;
  always @(posedge clock) if (fifo_re) rd_data <= fifo[rd_ptr[{aw1}:0]];

  // Run-time weights: a load frame's payload goes to the core's load port byte by byte; its
  // last 8 bytes are the model's hash, which the identity reports once the checksum matched
  // (0 from the frame's start: the memories are being overwritten).
  reg load_first_due = 0, chk_load = 0;
  reg [63:0] hash_shift = 0;
  reg [63:0] loaded_hash = {hash0};
  // y_t as sent: each output sign-extended to {yb} bytes.
  wire [{yw}:0] y_wide;
  genvar k;
  generate for (k = 0; k < {d}; k = k + 1) begin : pack_y
    assign y_wide[k*{yb8} +: {yb8}] = {y_ext};
  end endgenerate

  // Answers waiting to be sent.
  // Steps taken by the core, not yet reported (last-output frames): at most the window plus
  // the two steps outside the FIFO, so 10 bits; `credits_nz` is its non-zero flag, a cycle
  // late (a credit being sent keeps the sender busy for a whole byte).
  reg [9:0] credits = 0;
  reg credits_nz = 0;
  reg [{yw}:0] y_buf = 0;
  reg y_full = 0, y_final = 0; // a y_t to send; it is the frame's last
  reg [31:0] y_left = 0;       // outputs still to come in this frame
  reg y_one = 0;               // y_left == 1, registered
  reg [31:0] y_dec = 0;        // y_left − 1, registered (like steps_dec)
  reg y_lo_zero = 0;
  // y_buf loads and shifts on registered strobes, in a block of its own, so its wide enable is
  // one flop away. The core holds y_data through the handshake cycle, when keep_d loads it.
  reg keep_d = 0, final_d = 0, y_shift_d = 0;
  always @(posedge clock) begin
    if (keep_d) y_buf <= y_wide;
    else if (y_shift_d) y_buf <= y_buf >> 8;
  end
  reg chk_done = 0, chk_ok = 0, chk_empty = 0, status_due = 0, final_sent = 0;
  reg [7:0] status_code = 0;
  reg abort_due = 0;
  reg [7:0] abort_code = 0;
  reg id_due = 0, timer_due = 0;
  // The cycle counter in two halves with a registered carry: no 48-bit carry chain.
  reg [23:0] cycles_lo = 0, cycles_hi = 0;
  reg cycles_carry = 0;
  wire [47:0] cycles = {{cycles_hi, cycles_lo}};
  reg [47:0] timer_shift = 0;
  // Silence counts down from its limit; `abort_now` is set when it runs out.
  reg [{idle_w}:0] idle = {idle};
  reg abort_now = 0;            // the silence ran out, or a byte met a full FIFO (registered)
  // The silence condition, a cycle late: a frame is incomplete and nothing is queued.
  reg silent = 0;
  always @(posedge clock)
    silent <= pstate != P_CMD && fifo_empty && !rd_valid && !q_valid && !pb_valid && !(pstate == P_PAY && have_step) && !rx_valid;
  reg [7:0] abort_why = 0;

  // The sender: one answer at a time, byte by byte.
  localparam K_NONE = 3'd0, K_ABORT = 3'd1, K_CREDIT = 3'd2, K_ID = 3'd3, K_TIMER = 3'd4, K_Y = 3'd5, K_STATUS = 3'd6;
  reg [2:0] snd_kind = K_NONE;
  reg [15:0] snd_idx = 0, snd_left = 0; // bytes sent, bytes left of this answer
  reg [7:0] id_byte;
  always @* begin
    case (snd_idx[5:0]) // an identity is 48 bytes: six bits index it
{id_rom}      default: id_byte = 8'h00;
    endcase
  end
  // The identity byte and "first byte of the answer" registered: a byte goes out at least
  // two clocks after snd_idx last changed (an answer's index is 0 for its whole choosing
  // clock), so the registered values are the current ones and the 48-entry table and the
  // 16-bit compare stay off the path into tx_data.
  reg [7:0] id_byte_r = 0;
  reg snd_first = 1;
  always @(posedge clock) begin
    id_byte_r <= id_byte;
    snd_first <= snd_idx == 0;
  end
  reg [7:0] snd_byte;
  always @* begin
    case (snd_kind)
      K_ABORT: snd_byte = snd_first ? {reply_error} : abort_code;
      K_CREDIT: snd_byte = {reply_credit};
      K_ID: snd_byte = id_byte_r;
      K_TIMER: snd_byte = timer_shift[7:0];
      K_Y: snd_byte = y_buf[7:0];
      K_STATUS: snd_byte = snd_first ? (status_code == 0 ? {reply_ok} : {reply_error}) : status_code;
      default: snd_byte = 8'h00;
    endcase
  end
  wire credit_take = snd_kind == K_NONE && !abort_due && credits_nz;
  // A step taken in a last-output frame, registered: the core's x_ready stays off the adder.
  reg credit_give = 0;

  always @(posedge clock) begin
    cycles_lo <= cycles_lo + 1;
    cycles_carry <= cycles_lo == 24'hfffffe;
    if (cycles_carry) cycles_hi <= cycles_hi + 1;
    steps_one <= steps_left == 32'd1;
    y_one <= y_left == 32'd1;
    // Each decrement in two 16-bit halves, the low half's borrow registered: ready two cycles
    // after its count changes, and a count changes at most every fourth cycle (one FIFO byte).
    steps_lo_zero <= steps_left[15:0] == 0;
    y_lo_zero <= y_left[15:0] == 0;
    steps_dec <= {{steps_left[31:16] - steps_lo_zero, steps_left[15:0] - 16'd1}};
    y_dec <= {{y_left[31:16] - y_lo_zero, y_left[15:0] - 16'd1}};
    keep_d <= 0;
    y_shift_d <= 0;
    tx_start <= 0;
    load_valid <= 0;
    y_ready <= 0;
    rd_valid <= fifo_re;
    q_valid <= rd_valid;
    q_data <= rd_data;
    pb_valid <= q_valid;
    pb_data <= q_data;
    pb_step <= q_data == {cmd_start} || q_data == {cmd_next};
    pb_s <= q_data == {cmd_start};
    pb_frame <= q_data == {cmd_last} || q_data == {cmd_all};
    pb_l <= q_data == {cmd_last};
    pb_id <= q_data == {cmd_identify};
    pb_timer <= q_data == {cmd_timer};
    pb_nz <= q_data != 0;
    pb_load <= {pb_load};
    if (soft_reset != 0) soft_reset <= soft_reset - 1;
    soft_quiet <= soft_reset == 0 || soft_reset == 1;
    if (fifo_we) wr_ptr <= wr_ptr + 1;
    if (fifo_re) rd_ptr <= rd_ptr + 1;
    credit_give <= x_valid && x_ready && mode == M_LAST;
    credits <= credits + credit_give - credit_take;
    credits_nz <= credits != 0;
    if (reset) begin
      {clear}
      abort_due <= 0; id_due <= 0; timer_due <= 0;
      wr_ptr <= 0; rd_ptr <= 0;
    end else if (abort_now) begin
      // A frame stopped arriving (a byte was lost) or overran the FIFO: drop it and what is
      // queued, reset the core, and say so.
      {clear}
      rd_ptr <= wr_ptr;
      soft_reset <= 3'd4; soft_quiet <= 0;
      abort_due <= 1; abort_code <= abort_why;
    end else begin
      // Silence counts down; it has run out when the count goes below zero (its top bit), so
      // no compare of the whole count sits in front of the abort.
      if (silent) begin
        idle <= idle - 1;
        if (idle[{idle_w}]) begin abort_now <= 1; abort_why <= {err_timeout}; end
      end else idle <= {idle};
      if (rx_valid && fifo_full) begin abort_now <= 1; abort_why <= {err_overflow}; end

      if (pb_valid) case (pstate)
        P_CMD: begin // anything but these commands is ignored
          if (pb_step) begin // S, X: one step, answered by y_t (v1)
            mode <= M_STEP; pstate <= P_PAY; steps_left <= 1;
            start_next <= pb_s; y_left <= 1;
          end
          if (pb_frame) begin // L, A: a frame
            mode <= pb_l ? M_LAST : M_ALL; pstate <= P_LEN; len_idx <= 0; sum <= 0;
            start_next <= 1; chk_done <= 0;
          end
          if (pb_load) begin // W: a weight image (run-time weights only)
            mode <= M_LOAD; pstate <= P_LEN; len_idx <= 0; sum <= 0; chk_done <= 0;
            loaded_hash <= 0; load_first_due <= 1;
          end
          if (pb_id) id_due <= 1;                                        // I
          if (pb_timer) begin timer_due <= 1; timer_shift <= cycles; end // T
        end
        P_LEN: begin
          frame_len <= {{pb_data, frame_len[31:8]}};
          steps_left <= {{pb_data, frame_len[31:8]}};
          y_left <= {{pb_data, frame_len[31:8]}};
          sum <= sum + pb_data;
          len_idx <= len_idx + 1;
          len_nz <= (len_idx != 0 && len_nz) || pb_nz;
          if (len_idx == 2'd3) begin
            frame_empty <= !(len_nz || pb_nz);
            pstate <= (len_nz || pb_nz) ? P_PAY : P_CHK;
          end
        end
        P_PAY: begin
          sum <= sum + pb_data;
          if (mode == M_LOAD) begin // a weight byte (the count is of bytes)
            load_valid <= 1; load_first <= load_first_due; load_first_due <= 0;
            load_byte <= pb_data;
            hash_shift <= {{pb_data, hash_shift[63:8]}};
            steps_left <= steps_dec;
            if (steps_one) pstate <= P_CHK;
          end else begin
            {x_shift} // bytes arrive low first: a shift, not a decoder
            if (byte_last) begin
              byte_mark <= 1;
              have_step <= 1; step_start <= start_next; start_next <= 0;
              steps_left <= steps_dec;
              if (steps_one) pstate <= mode == M_STEP ? P_CMD : P_CHK;
            end else byte_mark <= byte_mark << 1;
          end
        end
        P_CHK: begin
          pstate <= P_CMD;
          chk_done <= 1;
          chk_ok <= pb_data == sum;
          chk_empty <= frame_empty;
          chk_load <= mode == M_LOAD;
          if (mode == M_LOAD && pb_data == sum && !frame_empty) loaded_hash <= hash_shift;
        end
      endcase

      // Hand the assembled step to the core.
      if (x_valid && x_ready) x_valid <= 0;
      else if (have_step && !x_valid) begin
        x_data <= {x_unpack}; x_start <= step_start; x_valid <= 1; have_step <= 0;
      end

      // Take y_t from the core: kept to send, or (last-output frames, not the last step) let go.
      if (y_valid && !y_ready && !y_full) begin
        y_ready <= 1;
        y_left <= y_dec;
        keep_d <= mode != M_LAST || y_one;
        final_d <= mode != M_STEP && y_one;
      end
      if (keep_d) begin y_full <= 1; y_final <= final_d; end

      // The frame's status follows its last y_t and its checksum, whichever comes later.
      // (An empty frame has no last y_t: its status follows its checksum alone.) The status is
      // set here only, from registers, so its logic stays shallow.
      if (chk_done && (final_sent || chk_empty || chk_load)) begin
        final_sent <= 0; chk_done <= 0; chk_load <= 0; status_due <= 1;
        status_code <= chk_empty ? {err_empty} : chk_ok ? 8'd0 : {err_checksum};
      end

      // Choose the next answer; then send it byte by byte.
      if (snd_kind == K_NONE) begin
        snd_idx <= 0;
        if (abort_due) begin snd_kind <= K_ABORT; snd_left <= 2; abort_due <= 0; end
        else if (credits_nz) begin snd_kind <= K_CREDIT; snd_left <= 1; end
        else if (id_due) begin snd_kind <= K_ID; snd_left <= {id_len}; id_due <= 0; end
        else if (timer_due) begin snd_kind <= K_TIMER; snd_left <= {timer_len}; timer_due <= 0; end
        else if (y_full) begin snd_kind <= K_Y; snd_left <= {y_bytes}; end
        else if (status_due) begin
          snd_kind <= K_STATUS; snd_left <= status_code == 0 ? 1 : 2; status_due <= 0;
        end
      end else if (!tx_busy && !tx_start) begin
        tx_data <= snd_byte;
        tx_start <= 1;
        snd_idx <= snd_left == 1 ? 16'd0 : snd_idx + 1;
        y_shift_d <= snd_kind == K_Y;
        if (snd_kind == K_TIMER) timer_shift <= timer_shift >> 8;
        snd_left <= snd_left - 1;
        if (snd_left == 1) begin
          snd_kind <= K_NONE;
          if (snd_kind == K_Y) begin
            y_full <= 0;
            if (y_final) begin y_final <= 0; final_sent <= 1; end
          end
        end
      end
    end
  end
"#,
        clear = clear,
        cmd_start = byte(CMD_START),
        cmd_next = byte(CMD_NEXT),
        cmd_last = byte(CMD_LAST),
        cmd_all = byte(CMD_ALL),
        cmd_identify = byte(CMD_IDENTIFY),
        cmd_timer = byte(CMD_TIMER),
        reply_credit = byte(REPLY_CREDIT),
        reply_ok = byte(REPLY_OK),
        reply_error = byte(REPLY_ERROR),
        err_checksum = byte(ErrorCode::Checksum.byte()),
        err_timeout = byte(ErrorCode::Timeout.byte()),
        err_empty = byte(ErrorCode::Empty.byte()),
        err_overflow = byte(ErrorCode::Overflow.byte()),
        fifo = 1usize << aw,
        fifo_last = (1usize << aw) - 1,
        aw = aw,
        aw1 = aw - 1,
        idle = s.idle,
        idle_w = idle_w,
        id_rom = identity_rom(&s.identity, s.ram),
        hash0 = hash0,
        pb_load = pb_load,
        id_len = IDENTITY_BYTES,
        timer_len = TIMER_BYTES,
        xw = x_bytes * 8 - 1,
        x_shift = if x_bytes == 1 {
            "x_shift <= pb_data;".to_string()
        } else {
            format!("x_shift <= {{pb_data, x_shift[{}:8]}};", x_bytes * 8 - 1)
        },
        x_last = x_bytes - 1,
        yw = y_bytes * 8 - 1,
        yb8 = yb * 8,
        y_ext = if yb * 8 == ky {
            format!("y_data[k*{ky} +: {ky}]")
        } else {
            format!(
                "{{{{{}{{y_data[k*{ky} + {}]}}}}, y_data[k*{ky} +: {ky}]}}",
                yb * 8 - ky,
                ky - 1
            )
        },
        x_unpack = x_unpack,
    );
    v
}
