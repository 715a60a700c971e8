//! The `load` stage and the kernel it starts: lane k reads samples `src + k·hop + j`,
//! `j < length`, transposed into one vector per tap, times the window, into the frame `x`;
//! then the per-frame stages that follow it in the plan ([`super::per_frame`]); then the
//! frame's sum into the non-finite flag vector (a non-finite lane means that frame needs the
//! direct DFT).

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::Variable;
use std::mem::offset_of;

use super::super::emit::{data, Addrs, DataSet, Emit};
use super::super::program::BlockArgs;
use super::super::vec::Vk;
use super::{arg, at, per_frame, Scratch};
use crate::kernel::{Load, Stage, StageKind};

/// The load kernel's tables: the fused window and each per-frame stage's own table.
pub struct Tables {
    window: Option<usize>,
    frame: Vec<Option<usize>>,
}

/// Pushes the tables of the load stage and the per-frame `stages` after it.
pub fn tables(load: &Load, stages: &[&Stage], vk: Vk, set: &mut DataSet) -> Tables {
    // The fused window is stored as whole vectors (each tap once per lane), so the gather
    // multiplies by a memory operand instead of broadcasting a scalar on the shuffle port,
    // which the transpose already keeps busy.
    let window = load.window.as_ref().map(|w| set.push_per_lane(vk, w.data.iter().copied()));
    let frame = stages.iter().map(|s| per_frame::table(&s.kind, vk, set)).collect();
    Tables { window, frame }
}

/// The load kernel: the load, then `stages` (per-frame ops and columns), then the flag.
pub fn emit(
    e: &mut Emit<'_, '_>,
    addrs: &Addrs,
    args: Value,
    load: &Load,
    stages: &[&Stage],
    tables: &Tables,
    s: &Scratch,
) {
    let vk = e.vk;
    let v = s.pitch;
    let ptr = e.ptr;
    let src = arg(e, args, offset_of!(BlockArgs, src));
    let scratch = arg(e, args, offset_of!(BlockArgs, scratch));
    let x = at(e, scratch, s.x);
    let flag = e.b.declare_var(vk.ty());
    let z = e.splat(0.0);
    e.b.def_var(flag, z);
    // Taps past the frame are the FFT's zero padding. Scratch is reused across blocks and
    // programs, so they are written on every call.
    e.range_loop(s.taps, s.x_points, |e, j| {
        let z = e.splat(0.0);
        let a = e.index(x, j, v);
        e.vstore(z, a, 0);
    });
    // Without per-frame ops the gather sums the flag as it stores.
    let fuse_flag = !stages.iter().any(|st| matches!(st.kind, StageKind::PerFrame(_)));
    let win = tables.window.map(|w| addrs.get(e.b, ptr, w));
    gather(e, src, x, s.pitch, s.taps, load.hop, win, if fuse_flag { Some(flag) } else { None });
    for (st, table) in stages.iter().zip(&tables.frame) {
        let table = table.map(|t| addrs.get(e.b, ptr, t));
        per_frame::emit(e, &st.kind, x, s, scratch, table);
    }
    if !fuse_flag {
        e.counted_loop(s.taps, |e, j| {
            let a = e.index(x, j, v);
            let xv = e.vload(a, 0);
            let f = e.b.use_var(flag);
            let f = e.b.ins().fadd(f, xv);
            e.b.def_var(flag, f);
        });
    }
    let f = e.b.use_var(flag);
    let fa = at(e, scratch, s.flag);
    e.vstore(f, fa, 0);
}

/// The framed load: `x[j] = (lane k: src[k·hop + j]) · w[j]` for `j < taps`, full vectors
/// through a transpose of `lanes` consecutive taps, the remainder lane by lane, `pitch` bytes
/// apart. Adds each stored vector to `flag` when given.
#[allow(clippy::too_many_arguments)]
fn gather(
    e: &mut Emit<'_, '_>,
    src: Value,
    x: Value,
    pitch: i64,
    taps: usize,
    hop: usize,
    win: Option<Value>,
    flag: Option<Variable>,
) {
    let vk = e.vk;
    let lanes = vk.lanes();
    let esz = vk.elem_bytes() as i64;
    let v = Vk::BYTES;
    let hop_bytes = hop as i64 * esz;
    // Windows and stores one vector of taps; returns the stored value.
    let finish = |e: &mut Emit<'_, '_>, val: Value, j: Value, jo: i64| {
        let val = match win {
            Some(w) => {
                let wa = e.index(w, j, v);
                let wv = e.vload_ro(wa, jo * v);
                e.b.ins().fmul(val, wv)
            }
            None => val,
        };
        let d = e.index(x, j, pitch);
        e.vstore(val, d, jo * pitch);
        val
    };
    let add_flag = |e: &mut Emit<'_, '_>, val: Value| {
        if let Some(f) = flag {
            let acc = e.b.use_var(f);
            let acc = e.b.ins().fadd(acc, val);
            e.b.def_var(f, acc);
        }
    };
    let full = taps / lanes;
    e.counted_loop(full, |e, blk| {
        let j = e.b.ins().imul_imm_s(blk, lanes as i64);
        let base = e.index(src, j, esz);
        let rows: Vec<Value> = (0..lanes).map(|k| e.vload(base, k as i64 * hop_bytes)).collect();
        let cols = transpose(e, &rows);
        let mut stored: Vec<Value> =
            cols.into_iter().enumerate().map(|(o, col)| finish(e, col, j, o as i64)).collect();
        if flag.is_some() {
            // A pairwise sum, so the loop-carried chain is one add per iteration instead of
            // one per vector (the chain's latency bounded the whole stage).
            while stored.len() > 1 {
                stored = stored
                    .chunks(2)
                    .map(|p| if p.len() == 2 { e.b.ins().fadd(p[0], p[1]) } else { p[0] })
                    .collect();
            }
            add_flag(e, stored[0]);
        }
    });
    for jj in full * lanes..taps {
        let mut val = e.splat(0.0);
        for k in 0..lanes {
            let s = e.b.ins().load(vk.scalar(), data(), src, (k as i64 * hop_bytes + jj as i64 * esz) as i32);
            val = e.b.ins().insertlane(val, s, k as u8);
        }
        let j = e.b.ins().iconst(e.ptr, jj as i64);
        let stored = finish(e, val, j, 0);
        add_flag(e, stored);
    }
}

/// Transposes `lanes` vectors (row k = lanes of frame k) into columns (column j = tap j of
/// every frame).
fn transpose(e: &mut Emit<'_, '_>, rows: &[Value]) -> Vec<Value> {
    let le = MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little);
    let to8 = |e: &mut Emit<'_, '_>, x: Value| e.b.ins().bitcast(types::I8X16, le, x);
    let ty = e.vk.ty();
    let from8 = |e: &mut Emit<'_, '_>, x: Value| e.b.ins().bitcast(ty, le, x);
    // Byte-shuffle masks selecting 32- or 64-bit lanes from (a, b).
    let mask = |lanes: &[usize], width: usize| -> Vec<u8> {
        lanes.iter().flat_map(|&l| (0..width).map(move |b| (l * width + b) as u8)).collect()
    };
    let shuf = |e: &mut Emit<'_, '_>, a: Value, b: Value, m: Vec<u8>| {
        let a8 = to8(e, a);
        let b8 = to8(e, b);
        let imm = e.b.func.dfg.immediates.push(cranelift_codegen::ir::ConstantData::from(m));
        let r = e.b.ins().shuffle(a8, b8, imm);
        from8(e, r)
    };
    match rows.len() {
        2 => {
            let lo = shuf(e, rows[0], rows[1], mask(&[0, 2], 8));
            let hi = shuf(e, rows[0], rows[1], mask(&[1, 3], 8));
            vec![lo, hi]
        }
        4 => {
            // unpcklps / unpckhps, then movlhps / movhlps.
            let t0 = shuf(e, rows[0], rows[1], mask(&[0, 4, 1, 5], 4));
            let t1 = shuf(e, rows[2], rows[3], mask(&[0, 4, 1, 5], 4));
            let t2 = shuf(e, rows[0], rows[1], mask(&[2, 6, 3, 7], 4));
            let t3 = shuf(e, rows[2], rows[3], mask(&[2, 6, 3, 7], 4));
            let c0 = shuf(e, t0, t1, mask(&[0, 1, 4, 5], 4));
            let c1 = shuf(e, t0, t1, mask(&[2, 3, 6, 7], 4));
            let c2 = shuf(e, t2, t3, mask(&[0, 1, 4, 5], 4));
            let c3 = shuf(e, t2, t3, mask(&[2, 3, 6, 7], 4));
            vec![c0, c1, c2, c3]
        }
        _ => unreachable!("2 or 4 lanes"),
    }
}
