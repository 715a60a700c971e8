//! Streaming a pipeline: [`Pipeline::stream`] and [`Stream`] (see the runtime's
//! [`specc_runtime::stream`] for how frames are assembled and run).
//!
//! This module decides, from the lowered graph, whether a spec can stream exactly, and when it
//! cannot points at the op in the spec text that needs the whole signal, with the `--set`
//! values (tried, not guessed) that remove it.

use specc_compiler::diag::{Diag, ErrorKind};
use specc_compiler::graph::{DbRef, Graph, Op, PadAmount, Scope};
use specc_compiler::syntax::ast::{Call, Expr, ExprKind, Item, Span, Stage};
use specc_compiler::syntax::printer;

pub use specc_runtime::stream::ClipMode;

use crate::{Engine, Error, Input, Output, Pipeline};

/// A pipeline's stream: push chunks of audio of any size, get each frame once its samples have
/// arrived; [`Stream::finish`] ends the signal. The results concatenated along
/// [`Stream::time_axis`] equal [`Pipeline::run`] on the whole signal (on the JIT) bit for bit,
/// for any chunking.
///
/// ```
/// use specc::{Input, Pipeline};
/// let p = Pipeline::preset("kaldi_fbank", &[])?;
/// let mut st = p.stream()?;
/// let audio = ndarray::Array2::<f32>::from_shape_fn((1, 16000), |(_, i)| (i as f32 * 0.01).sin());
/// let mut frames = 0;
/// for chunk in audio.axis_chunks_iter(ndarray::Axis(1), 160) {
///     frames += st.push(&Input::F32(chunk.into_dyn()))?.shape()[0];
/// }
/// frames += st.finish()?.shape()[0];
/// assert_eq!(frames, p.run(&Input::F32(audio.view().into_dyn()))?.shape()[0]);
/// # Ok::<(), specc::Error>(())
/// ```
#[derive(Debug)]
pub struct Stream {
    inner: specc_runtime::stream::Stream,
}

impl Stream {
    /// Appends `chunk` (the spec's input layout with any number of samples, 0 included) and
    /// returns the frames it completed, in the spec's output layout (possibly none along the
    /// time axis). The first push fixes the dtype and the leading axes (channels, batch).
    pub fn push(&mut self, chunk: &Input<'_>) -> Result<Output, Error> {
        Ok(self.inner.push(chunk)?)
    }

    /// Ends the signal: the remaining frames (those reading the right pad, the last ones the
    /// library keeps), then the stream starts over. Fails where the offline run fails on the
    /// whole signal (too short for any frame, nothing pushed).
    pub fn finish(&mut self) -> Result<Output, Error> {
        Ok(self.inner.finish()?)
    }

    /// Deferred clip mode ([`Pipeline::stream_deferred`]), after [`Stream::finish`]: clips
    /// `out`, every frame of the signal concatenated along the time axis, in place, giving
    /// the offline run's result.
    pub fn apply_clip(&self, out: &mut Output) -> Result<(), Error> {
        Ok(self.inner.apply_clip(out)?)
    }

    /// How this stream treats a clip against a maximum ([`Pipeline::stream_with`]).
    pub fn mode(&self) -> ClipMode {
        self.inner.mode()
    }

    /// Emits frames in multiples of `frames` (at least 1; `finish` returns the rest): each push
    /// returns its ready frames rounded down to a multiple and holds the others. The kernels
    /// compute [`Stream::block_frames`] frames per call, so a push completing one frame pays
    /// for a block; grouping by the block trades up to `frames - 1` hops of latency for
    /// throughput. The values do not change.
    pub fn set_group(&mut self, frames: usize) {
        self.inner.set_group(frames);
    }

    /// The frames grouped per emission (1 unless [`Stream::set_group`] said otherwise).
    pub fn group(&self) -> usize {
        self.inner.group()
    }

    /// Frames the kernels compute per call: 4 on the 128-bit path, 8 on the wide AVX2 path
    /// (f32); the group that makes every push's work whole blocks.
    pub fn block_frames(&self) -> usize {
        self.inner.block_frames()
    }

    /// Forgets all samples: the next push starts a new signal.
    pub fn reset(&mut self) {
        self.inner.reset();
    }

    /// Look-ahead in samples: frame `t` comes out once the input reaches sample
    /// `t·hop + latency()` (`t·hop` being the sample the library dates the frame at); for
    /// centred specs the pad's `length / 2`. See [`Stream::warmup`] for the first frames.
    pub fn latency(&self) -> usize {
        self.inner.latency()
    }

    /// Samples the first frames wait for, to mirror the signal's start (a reflect pad of `l`
    /// samples needs `l + 1`); 0 without a mirroring pad.
    pub fn warmup(&self) -> usize {
        self.inner.warmup()
    }

    /// The output axis the frames grow along; known after the first push (a `...` in the
    /// layout expands to the chunk's leading axes) and still after `finish`, until `reset`.
    pub fn time_axis(&self) -> Option<usize> {
        self.inner.time_axis()
    }

    /// Samples pushed since the stream (re)started.
    pub fn received(&self) -> usize {
        self.inner.received()
    }

    /// Frames returned since the stream (re)started.
    pub fn emitted(&self) -> usize {
        self.inner.emitted()
    }

    /// Samples per signal held now: about one frame window plus the last chunk, however long
    /// the stream has run.
    pub fn buffered(&self) -> usize {
        self.inner.buffered()
    }
}

/// An op of the lowered graph that needs the whole signal, and why.
struct Refusal {
    node: usize,
    why: String,
}

/// The first op of `g` that cannot stream exactly; with `clip_mode`, a `db` clip is allowed
/// (the deferred mode applies it after the signal ends, the running mode as frames come out).
fn refusal(g: &Graph, clip_mode: bool) -> Option<Refusal> {
    let over = |s: Scope| match s {
        Scope::Tensor => String::from("the whole tensor"),
        Scope::Trailing(k) => format!("each item's last {k} axes"),
    };
    let clips = |op: &Op| matches!(op, Op::Db { top_db: Some(_), .. } | Op::Db { reference: DbRef::Max, .. });
    g.nodes.iter().enumerate().find_map(|(node, n)| {
        let why = match &n.op {
            // An op mixing the clipped values of a frame (a dct) needs the clip final first.
            op if clip_mode && clips(op) && g.nodes[node..].iter().any(|m| m.op.mixes_frame()) => {
                let mixer = g.nodes[node..].iter().find(|m| m.op.mixes_frame()).map_or("", |m| m.op.name());
                format!(
                    "`db` clips at a maximum before `{mixer}` mixes each frame's values: the clip can be neither deferred past it nor applied per push"
                )
            }
            Op::Db { .. } if clip_mode => return None,
            Op::Db { top_db: Some(t), scope, .. } => format!(
                "`db` clips every value at the maximum over {} minus {t}: that maximum is known only when the signal has ended",
                over(*scope)
            ),
            Op::Db { reference: DbRef::Max, scope, .. } => format!(
                "`db` with ref=max is relative to the maximum over {}, known only when the signal has ended",
                over(*scope)
            ),
            Op::SubtractMean => String::from(
                "`subtract_mean` subtracts each column's mean over all of the signal's frames",
            ),
            Op::Pad { amount: PadAmount::Same { .. }, .. } => String::from(
                "`pad_same`'s left pad depends on the signal's length, known only at its end",
            ),
            _ => return None,
        };
        Some(Refusal { node, why })
    })
}

/// Where a call sits in the spec: its span, the bool params of the `if`s enclosing it, and the
/// params its arguments name.
struct Found {
    span: Span,
    conds: Vec<String>,
    args: Vec<String>,
}

fn find_call(items: &[Item], op: &str, origin: &str) -> Option<Found> {
    fn ident(e: &Expr) -> Option<String> {
        match &e.kind {
            ExprKind::Ident(n) => Some(n.clone()),
            _ => None,
        }
    }
    fn call(c: &Call, op: &str, origin: &str, conds: &[String], best: &mut Option<(bool, Found)>) {
        // The call printed as the node's origin; else the first call of the op's name (an op
        // can be spelled otherwise: `pad_same` lowers to `pad`).
        let exact = printer::expr(&Expr { kind: ExprKind::Call(c.clone()), span: c.span }) == origin;
        if (exact || c.name.name == op) && best.as_ref().is_none_or(|(e, _)| exact && !*e) {
            let args = c.args.iter().filter_map(|a| ident(&a.value)).collect();
            *best = Some((exact, Found { span: c.span, conds: conds.to_vec(), args }));
        }
        for a in &c.args {
            expr(&a.value, op, origin, conds, best);
        }
    }
    fn expr(e: &Expr, op: &str, origin: &str, conds: &[String], best: &mut Option<(bool, Found)>) {
        match &e.kind {
            ExprKind::Call(c) => call(c, op, origin, conds, best),
            ExprKind::Pipe(head, stages) => {
                expr(head, op, origin, conds, best);
                stages.iter().for_each(|s| stage(s, op, origin, conds, best));
            }
            ExprKind::Unary(_, a) => expr(a, op, origin, conds, best),
            ExprKind::Binary(_, a, b) => {
                expr(a, op, origin, conds, best);
                expr(b, op, origin, conds, best);
            }
            ExprKind::If(c, a, b) => {
                let mut inner = conds.to_vec();
                inner.extend(ident(c));
                expr(a, op, origin, &inner, best);
                expr(b, op, origin, conds, best);
            }
            ExprKind::Match(_, arms) => arms.iter().for_each(|a| expr(&a.body, op, origin, conds, best)),
            _ => {}
        }
    }
    fn stage(s: &Stage, op: &str, origin: &str, conds: &[String], best: &mut Option<(bool, Found)>) {
        match s {
            Stage::Call(c) => call(c, op, origin, conds, best),
            Stage::If { cond, then, otherwise, .. } => {
                let mut inner = conds.to_vec();
                inner.extend(ident(cond));
                then.iter().for_each(|s| stage(s, op, origin, &inner, best));
                otherwise.iter().flatten().for_each(|s| stage(s, op, origin, conds, best));
            }
            Stage::Match { arms, .. } => {
                arms.iter().flat_map(|a| &a.body).for_each(|s| stage(s, op, origin, conds, best))
            }
        }
    }
    let mut best = None;
    for item in items {
        match item {
            Item::Let(l) => expr(&l.value, op, origin, &[], &mut best),
            Item::Output(e) => expr(e, op, origin, &[], &mut best),
            _ => {}
        }
    }
    best.map(|(_, f)| f)
}

impl Pipeline {
    /// A stream of this pipeline: audio pushed in chunks of any size, frames out as soon as
    /// their samples have arrived, equal to [`Pipeline::run`] on the whole signal bit for bit.
    ///
    /// Fails with a spec error pointing at the op when the spec needs the whole signal: a clip
    /// at the maximum (`db(top_db: ...)`, `ref=max`: Keras, librosa, Whisper), Kaldi's
    /// `subtract_mean`, `deltas`, `pad_same`; the hint names the `--set` values that remove it
    /// when the spec has them. Streaming runs on the JIT; a graph the JIT cannot compile, or a
    /// pipeline set to the interpreter, fails too.
    pub fn stream(&self) -> Result<Stream, Error> {
        self.stream_with(ClipMode::Exact)
    }

    /// A stream in deferred clip mode, for specs whose `db` clips at a maximum (`top_db`,
    /// `ref=max`: Whisper, librosa, Keras): frames come out as they arrive with the values
    /// before the clip; after [`Stream::finish`], [`Stream::apply_clip`] clips all of them
    /// (concatenated) against the signal's maximum, giving [`Pipeline::run`]'s result bit for
    /// bit. Other ops that need the whole signal are refused as by [`Pipeline::stream`].
    ///
    /// ```
    /// use specc::{Input, Output, Pipeline};
    /// let p = Pipeline::preset("whisper", &[])?;
    /// let x = ndarray::Array1::<f32>::from_shape_fn(8000, |i| (i as f32 * 0.05).sin());
    /// let mut st = p.stream_deferred()?;
    /// let mut parts = Vec::new();
    /// for chunk in x.axis_chunks_iter(ndarray::Axis(0), 1600) {
    ///     if let Output::F32(a) = st.push(&Input::F32(chunk.into_dyn()))? { parts.push(a) }
    /// }
    /// if let Output::F32(a) = st.finish()? { parts.push(a) }
    /// let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
    /// let mut all = Output::F32(ndarray::concatenate(ndarray::Axis(1), &views).unwrap());
    /// st.apply_clip(&mut all)?;
    /// assert_eq!(all, p.run(&Input::F32(x.view().into_dyn()))?);
    /// # Ok::<(), specc::Error>(())
    /// ```
    pub fn stream_deferred(&self) -> Result<Stream, Error> {
        self.stream_with(ClipMode::Deferred)
    }

    /// A stream whose clip against a maximum (`db` with `top_db` or `ref=max`) is treated as
    /// `mode` says: refused ([`ClipMode::Exact`], as [`Pipeline::stream`]), applied after the
    /// end ([`ClipMode::Deferred`], as [`Pipeline::stream_deferred`]), or applied to each
    /// push's frames against the maximum so far ([`ClipMode::Running`]: for live display or
    /// a model that tolerates it; a frame differs from the offline run's when a later frame
    /// raised the maximum, since its floor was lower). Without such a clip the deferred and
    /// running modes are errors, so a mode is never asked for in vain.
    ///
    /// ```
    /// use specc::{ClipMode, Input, Output, Pipeline};
    /// let p = Pipeline::preset("whisper", &[])?;
    /// let x = ndarray::Array1::<f32>::from_shape_fn(16000, |i| (i as f32 * 0.05).sin());
    /// let mut st = p.stream_with(ClipMode::Running)?;
    /// let mut frames = 0;
    /// for chunk in x.axis_chunks_iter(ndarray::Axis(0), 160) {
    ///     frames += st.push(&Input::F32(chunk.into_dyn()))?.shape()[1];
    /// }
    /// frames += st.finish()?.shape()[1];
    /// assert_eq!(frames, 100);
    /// # Ok::<(), specc::Error>(())
    /// ```
    pub fn stream_with(&self, mode: ClipMode) -> Result<Stream, Error> {
        let g = self.graph();
        if let Some(r) = refusal(g, mode != ClipMode::Exact) {
            return Err(self.refusal_error(&r));
        }
        if self.engine == Engine::Interp {
            return Err(Error::Run(specc_runtime::RunError::Stream(String::from(
                "streaming runs on the JIT, and this pipeline is set to the interpreter",
            ))));
        }
        let (g, programs) = (self.optimized.clone(), self.programs.clone());
        let inner = specc_runtime::stream::Stream::with_mode(g, programs, mode)?;
        Ok(Stream { inner })
    }

    fn refusal_error(&self, r: &Refusal) -> Error {
        let g = self.graph();
        let node = &g.nodes[r.node];
        let found = find_call(&self.compiled.spec.items, node.op.name(), &node.origin);
        // `--set` values that remove the op: each tried, kept if the spec then streams.
        let mut fixes = Vec::new();
        if let Some(f) = &found {
            let bools = f.conds.iter().filter_map(|c| {
                self.params()
                    .iter()
                    .find(|p| &p.name == c && p.value == specc_compiler::lower::Value::Bool(true))
            });
            let nones =
                f.args.iter().filter_map(|a| self.params().iter().find(|p| &p.name == a && p.optional));
            let candidates: Vec<String> = bools
                .map(|p| format!("{}=false", p.name))
                .chain(nones.map(|p| format!("{}=none", p.name)))
                .collect();
            for c in candidates {
                // The candidate replaces a `--set` of the same param.
                let param = c.split('=').next().unwrap_or_default();
                let mut sets: Vec<String> = self
                    .source
                    .sets
                    .iter()
                    .filter(|s| s.split('=').next().map(str::trim) != Some(param))
                    .map(|s| s.to_string())
                    .collect();
                sets.push(c.clone());
                let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
                if Pipeline::compile(&self.source.name, &self.source.text, &sets)
                    .is_ok_and(|p| refusal(p.graph(), false).is_none())
                {
                    fixes.push(format!("--set {c}"));
                }
            }
        }
        let mut help = String::from(
            "a stream emits each frame once its samples have arrived and cannot wait for the end; run the whole signal with `specc run`",
        );
        if !fixes.is_empty() {
            help = format!("it streams with {}. Otherwise {help}", fixes.join(" or "));
        }
        if matches!(node.op, Op::Db { .. }) {
            help.push_str(
                "; or stream it with the clip deferred to the end (`--defer-clip`, exact) or against the maximum so far (`--running-clip`, differs from offline)",
            );
        }
        let span = found.map_or(Span { start: 0, end: 0 }, |f| f.span);
        let diag =
            Diag::new(ErrorKind::Structure, span, format!("this spec cannot stream exactly: {}", r.why))
                .label("needs the whole signal")
                .help(help);
        Error::Spec(Box::new(diag.into_error(&self.source)))
    }
}
