//! The emission toolkit every kernel emitter shares: [`Emit`] (the builder, the target, the
//! pointer type and the lane kind, with loops, vector loads and stores, constants and
//! `mul_add`), the read-only tables of a kernel ([`DataSet`], addressed through [`Addrs`]) and
//! the memory flags kernels use. The FFT emitters (`fft`), the stage emitters (`stage`) and the
//! vector math (`vmath`) build on it.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{BlockArg, GlobalValue, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;
use cranelift_module::DataId;

use super::jit::{CodeModule, JitError, TargetInfo};
use super::vec::Vk;

/// Read-only tables for a kernel, collected while planning and registered as data objects of
/// the module before the function that reads them is defined.
#[derive(Default)]
pub struct DataSet {
    blobs: Vec<Vec<u8>>,
}

impl DataSet {
    /// Adds a table; the index redeems its address inside the function (see [`Addrs`]).
    pub fn push(&mut self, bytes: Vec<u8>) -> usize {
        self.blobs.push(bytes);
        self.blobs.len() - 1
    }
    /// Adds floats stored in the lane type of `vk`.
    pub fn push_floats(&mut self, vk: Vk, values: impl IntoIterator<Item = f64>) -> usize {
        let mut bytes = Vec::new();
        for v in values {
            match vk.elem_bytes() {
                4 => bytes.extend((v as f32).to_le_bytes()),
                _ => bytes.extend(v.to_le_bytes()),
            }
        }
        self.push(bytes)
    }
    /// Adds floats as whole vectors, each value once per lane of `vk`: kernels then use them
    /// as memory operands instead of broadcasting scalars.
    pub fn push_per_lane(&mut self, vk: Vk, values: impl IntoIterator<Item = f64>) -> usize {
        let lanes = vk.lanes();
        self.push_floats(vk, values.into_iter().flat_map(|x| std::iter::repeat_n(x, lanes)))
    }
    /// Adds `u32` values.
    pub fn push_u32(&mut self, values: impl IntoIterator<Item = u32>) -> usize {
        self.push(values.into_iter().flat_map(u32::to_le_bytes).collect())
    }
    /// Registers every table in `jit` (names prefixed by `prefix`).
    pub fn register(self, jit: &mut CodeModule, prefix: &str) -> Result<Vec<DataId>, JitError> {
        self.blobs
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| jit.define_data(&format!("{prefix}.d{i}"), bytes, 16))
            .collect()
    }
}

/// The addresses of a [`DataSet`]'s tables inside a function being built.
pub struct Addrs {
    gvs: Vec<GlobalValue>,
}

impl Addrs {
    /// Wraps the global values `define_with_data` handed to the builder.
    pub fn new(gvs: &[GlobalValue]) -> Self {
        Addrs { gvs: gvs.to_vec() }
    }
    /// The address of table `i`.
    pub fn get(&self, b: &mut FunctionBuilder<'_>, ptr: Type, i: usize) -> Value {
        b.ins().symbol_value(ptr, self.gvs[i])
    }
}

/// Flags for data the kernel writes or reads through caller pointers (no alignment promise).
pub fn data() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// Flags for the immutable tables.
pub fn readonly() -> MemFlagsData {
    MemFlagsData::new().with_notrap().with_readonly()
}

/// IR emission state shared by the kernels: the builder, the target, the lane kind.
pub struct Emit<'a, 'b> {
    /// The function builder.
    pub b: &'a mut FunctionBuilder<'b>,
    /// Target facts (FMA).
    pub t: TargetInfo,
    /// Pointer type.
    pub ptr: Type,
    /// Lane kind.
    pub vk: Vk,
}

impl Emit<'_, '_> {
    /// Runs `body(i)` for `i in 0..count` (a do-while loop; straight line when `count == 1`;
    /// nothing when `count == 0`).
    pub fn counted_loop(&mut self, count: usize, body: impl FnOnce(&mut Self, Value)) {
        self.range_loop(0, count, body)
    }

    /// Runs `body(i)` for `i in start..end` with constant bounds.
    pub fn range_loop(&mut self, start: usize, end: usize, body: impl FnOnce(&mut Self, Value)) {
        if end <= start {
            return;
        }
        if end - start == 1 {
            let i = self.b.ins().iconst(self.ptr, start as i64);
            body(self, i);
            return;
        }
        let lp = self.b.create_block();
        let exit = self.b.create_block();
        self.b.append_block_param(lp, self.ptr);
        let first = self.b.ins().iconst(self.ptr, start as i64);
        self.b.ins().jump(lp, &[BlockArg::Value(first)]);
        self.b.switch_to_block(lp);
        let i = self.b.block_params(lp)[0];
        body(self, i);
        let next = self.b.ins().iadd_imm_s(i, 1);
        let more = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, next, end as i64);
        self.b.ins().brif(more, lp, &[BlockArg::Value(next)], exit, &[]);
        self.b.switch_to_block(exit);
    }

    /// Runs `body(offsets)` `count` times (a do-while loop; straight line when `count == 1`);
    /// offset `j` starts at 0 and grows by `steps[j]` per iteration, so addresses are
    /// `base + offset` with no multiply.
    pub fn offset_loop(&mut self, count: usize, steps: &[i64], body: impl FnOnce(&mut Self, &[Value])) {
        if count == 0 {
            return;
        }
        let zero = self.b.ins().iconst(self.ptr, 0);
        if count == 1 {
            let offs = vec![zero; steps.len()];
            body(self, &offs);
            return;
        }
        let lp = self.b.create_block();
        let exit = self.b.create_block();
        for _ in steps {
            self.b.append_block_param(lp, self.ptr);
        }
        let init: Vec<BlockArg> = steps.iter().map(|_| BlockArg::Value(zero)).collect();
        self.b.ins().jump(lp, &init);
        self.b.switch_to_block(lp);
        let offs = self.b.block_params(lp).to_vec();
        body(self, &offs);
        let next: Vec<Value> = offs.iter().zip(steps).map(|(&o, &s)| self.b.ins().iadd_imm_s(o, s)).collect();
        let end = count as i64 * steps[0];
        let more = self.b.ins().icmp_imm_u(IntCC::SignedLessThan, next[0], end);
        let args: Vec<BlockArg> = next.iter().map(|&v| BlockArg::Value(v)).collect();
        self.b.ins().brif(more, lp, &args, exit, &[]);
        self.b.switch_to_block(exit);
    }

    /// Passes `vals` through a new block's parameters and continues there: every pure
    /// instruction they depend on is placed before this point (Cranelift otherwise sinks pure
    /// arithmetic to its first side-effecting use, after all the loads, and spills).
    ///
    /// `guard` is any integer that is never -1 at run time (an offset): the never-taken edge
    /// that tests it passes other values, so Cranelift cannot fold the parameters away.
    pub fn barrier(&mut self, vals: &[Value], guard: Value) -> Vec<Value> {
        let blk = self.b.create_block();
        for &v in vals {
            let ty = self.b.func.dfg.value_type(v);
            self.b.append_block_param(blk, ty);
        }
        let args: Vec<BlockArg> = vals.iter().map(|&v| BlockArg::Value(v)).collect();
        let mut rot: Vec<BlockArg> = vec![args[0]; args.len()];
        rot[0] = args[args.len() - 1];
        // The never-taken edge goes through a block of its own, so the register shuffling
        // its rotated arguments need sits there and not on the hot path.
        let cold = self.b.create_block();
        let never = self.b.ins().icmp_imm_s(IntCC::Equal, guard, -1);
        self.b.ins().brif(never, cold, &[], blk, &args);
        self.b.switch_to_block(cold);
        self.b.set_cold_block(cold);
        self.b.ins().jump(blk, &rot);
        self.b.switch_to_block(blk);
        self.b.block_params(blk).to_vec()
    }

    /// Loads a vector at `base + off`.
    pub fn vload(&mut self, base: Value, off: i64) -> Value {
        let off = i32::try_from(off).expect("offsets were checked to fit i32");
        self.b.ins().load(self.vk.ty(), data(), base, off)
    }

    /// Stores a vector at `base + off`.
    pub fn vstore(&mut self, v: Value, base: Value, off: i64) {
        let off = i32::try_from(off).expect("offsets were checked to fit i32");
        self.b.ins().store(data(), v, base, off);
    }

    /// A vector from a read-only table at `base + off`, as a pure value (placed at its use,
    /// where it can become a memory operand).
    pub fn vload_ro(&mut self, base: Value, off: i64) -> Value {
        let off = i32::try_from(off).expect("offsets were checked to fit i32");
        self.b.ins().load(self.vk.ty(), readonly().with_can_move(), base, off)
    }

    /// A table scalar at `base + off`, broadcast to every lane.
    pub fn splat_load(&mut self, base: Value, off: i64) -> Value {
        let off = i32::try_from(off).expect("offsets were checked to fit i32");
        let s = self.b.ins().load(self.vk.scalar(), readonly(), base, off);
        self.b.ins().splat(self.vk.ty(), s)
    }

    /// `base + i * scale` for an index value `i`.
    pub fn index(&mut self, base: Value, i: Value, scale: i64) -> Value {
        let off = self.b.ins().imul_imm_s(i, scale);
        self.b.ins().iadd(base, off)
    }

    /// A constant vector.
    pub fn splat(&mut self, v: f64) -> Value {
        self.vk.splat(self.b, v)
    }

    /// `a·x + c` (fma only when native).
    pub fn mul_add(&mut self, a: Value, x: Value, c: Value) -> Value {
        self.vk.mul_add(self.b, self.t, a, x, c)
    }
}

/// Runs `body(i)` for `i in 0..count` with `count` known only at run time (possibly 0): a loop
/// that tests before each iteration. For kernels built on the bare builder (the later phases'
/// kernels, which take counts as arguments).
pub fn for_count(
    b: &mut FunctionBuilder<'_>,
    ptr: Type,
    count: Value,
    body: impl FnOnce(&mut FunctionBuilder<'_>, Value),
) {
    let head = b.create_block();
    let lp = b.create_block();
    let exit = b.create_block();
    b.append_block_param(head, ptr);
    let zero = b.ins().iconst(ptr, 0);
    b.ins().jump(head, &[BlockArg::Value(zero)]);
    b.switch_to_block(head);
    let i = b.block_params(head)[0];
    let more = b.ins().icmp(IntCC::UnsignedLessThan, i, count);
    b.ins().brif(more, lp, &[], exit, &[]);
    b.switch_to_block(lp);
    body(b, i);
    let next = b.ins().iadd_imm_s(i, 1);
    b.ins().jump(head, &[BlockArg::Value(next)]);
    b.switch_to_block(exit);
}
