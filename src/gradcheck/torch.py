"""PyTorch adapter: check a module's autograd gradients, or any differentiable function of tensors.

Install with ``pip install "gradcheck[torch]"`` (PyTorch pinned to the CPU build ``torch==2.13.0``).
PyTorch is imported when a function here is called, never by ``import gradcheck``.

The loss is evaluated on a deep copy of the model, inside ``torch.random.fork_rng``: your model,
its parameters, their ``.grad``, its buffers (BatchNorm running statistics) and the global RNG
state are exactly as before. ``precision`` (`_torch_precision`) says in which dtype: float64
copies where the code computes in float64, else each tensor's own dtype and device. Many perturbed parameter vectors are evaluated per
call with ``torch.func.vmap`` over the perturbed tensor only, so work that does not depend on
it (the layers before it) runs once per call, not once per point. An ``nn.Sequential`` goes
further (see ``_torch_sequential``): it starts each point at the layer it changes, and a
changed ``nn.Linear`` entry costs a rank-one update instead of the layer's matrix product.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any, Optional

import numpy as np

from . import _options, _torch_contracts, _torch_modes, _torch_precision, _wording
from ._check import check_against as _check_against
from ._errors import LossRaisedError, LossValueError, OptionError
from ._evaluate._batched import CHUNK_BYTES
from ._report._report import Report
from ._torch_function import Inputs, Outputs, widened
from ._torch_precision import Placement, described
from ._torch_sequential import SequentialPlan
from ._tree import Layout, flatten, match_gradient, tree_map
from ._vmap import VmapLoss

INSTALL = "pip install torch==2.13.0"


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError(f"gradcheck.torch needs PyTorch, which is not installed: {INSTALL}") from None
    return torch


def check_module(
    model: Any,
    loss_fn: Callable[..., Any],
    *batch: Any,
    eval_mode: bool = False,
    modes: Any = None,
    order: int = 1,
    **options: Any,
) -> Report:
    """Check ``model``'s autograd gradients of ``loss_fn(model(*inputs), target)`` numerically.

    Args:
        model: a ``torch.nn.Module``; every parameter with ``requires_grad`` is checked, named
            as in ``named_parameters()`` (``fc1.weight[3, 2]``).
        loss_fn: ``loss_fn(output, target)`` (or ``loss_fn(output)`` when ``batch`` has one
            element), e.g. ``torch.nn.CrossEntropyLoss()``.
        batch: the model's inputs followed by the target: ``x, y`` means ``loss_fn(model(x), y)``.
        eval_mode: check the model in eval mode (dropout off, BatchNorm on running statistics).
            Otherwise the model's own mode is kept and the RNG is reseeded with ``seed`` before
            every evaluation, so dropout draws the same mask each time.
        modes: ``"rev"`` (backward), ``"fwd"`` (forward-mode AD) or both; None (default) checks
            every mode the code supports, against the same finite differences (a mode it does
            not support, such as forward mode through a Function without ``jvp``, is said in a
            ``not_checked`` finding). Forward-mode rows are named ``fwd:<name>``.
        order: 1, or 2 to also check second derivatives (double backward, through
            `gradcheck.check_hvp`; rows ``hvp:<name>``).
        options: any option of `gradcheck.check` (``method``, ``eps``, ``seed``, ``workers``...).
            ``batched_loss`` is supplied (torch.func.vmap) unless ``workers``/``executor`` is given.

    Returns:
        A `Report` over every mode and order checked.

    Example:
        >>> import torch, gradcheck.torch
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
        >>> x, y = torch.randn(8, 3), torch.randn(8, 1)
        >>> gradcheck.torch.check_module(model, torch.nn.MSELoss(), x, y).passed
        True
    """
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        raise OptionError(f"{_options.shown('model', model)}: pass a torch.nn.Module")
    if not batch:
        raise OptionError("check_module needs a batch: check_module(model, loss_fn, inputs..., target)")
    seed = _seed(options)
    modes, order = _options.modes(modes), _options.order(order)
    precision = _torch_precision.option(options)
    with torch.random.fork_rng(devices=[]):
        mode, why = _torch_precision.resolve(
            torch, precision, "the model", lambda: _module_in_float64(torch, model, loss_fn, batch, seed)
        )
        work = _working_copy(torch, model, eval_mode, mode)
        trained = {name: p for name, p in work.named_parameters() if p.requires_grad}
        placement = Placement.of(torch, trained, mode)
        params = {name: placement.array(torch, name, p) for name, p in trained.items()}
        inputs = tuple(_float64(torch, b) if mode == "float64" else _detached(torch, b) for b in batch)
        loss = _ModuleLoss(work, loss_fn, inputs, list(trained), placement)
        report = _run(torch, loss, params, seed, options, modes=modes, order=order)
    return _with_precision(report, described(mode, (p.dtype for p in trained.values())), why)


def check_function(
    fn: Callable[..., Any],
    *inputs: Any,
    modes: Any = None,
    order: int = 1,
    contracts: bool = True,
    reference: Optional[Callable[..., Any]] = None,
    **options: Any,
) -> Report:
    """Check the autograd gradient of ``fn(*inputs)`` (e.g. a custom ``torch.autograd.Function``).

    The input tensors that require grad are checked (all floating-point and complex ones if none
    does), named ``inputs[i]`` (``inputs[1][0]`` inside a list); inputs may be nested lists,
    tuples and dicts. Complex tensors are checked as their real and imaginary parts
    (``inputs[0].real``) with PyTorch's convention, ``x.grad = ∂J/∂Re x + i·∂J/∂Im x``.
    Non-finite input entries (a -inf mask) are left unperturbed and reported as unchecked.

    The outputs may be any pytree of tensors; the differentiable ones (floating-point or complex,
    requiring grad) are reduced with a seeded random cotangent v (``Σ v·fn(*inputs)``, summed in
    float64), which checks the vector-Jacobian product autograd computes; integer or boolean
    outputs and outputs returned without grad are ignored. With several differentiable outputs,
    each one is then also checked alone, the others' gradients left undefined (as a loss that
    uses one output leaves them): a backward that mishandles an undefined output gradient fails
    that check, and its report comes back with an ``undefined_gradient`` finding.

    ``precision="auto"`` (default) runs ``fn`` once on float64 copies: a kernel that raises
    (float32 only) or returns a narrower dtype (it casts down inside) is checked in its own dtype
    and on its own device, with directional regressions that reach that precision's limit;
    ``"float64"`` and ``"native"`` force one or the other.

    With ``reference=ref_fn`` (the same function in plain PyTorch) no finite difference is
    taken: the truth is ``ref_fn``'s gradient on float64 copies of the inputs, and the kernel's
    gradient, in its own precision, is wrong where it misses the truth by more than rounding
    explains, measured by running ``ref_fn`` in the kernel's precision. The findings (scale,
    sign, transpose, rows, entries) are those of any check.

    ``contracts=True`` (default) also checks what a custom op owes its callers, on clones of the
    inputs in their own dtype and device: inputs not mutated, outputs not aliasing inputs
    undeclared, each gradient with its input's dtype, shape and device, no gradient for integer
    or boolean inputs, zero gradients for a zero upstream gradient, a repeatable backward, and
    vmap of the backward equal to a loop where vmap applies (``contract`` findings, failing).

    Args:
        fn: the function, called as ``fn(*inputs)`` with float64 (complex128) copies, or with
            copies in the inputs' own dtype and device when checked natively.
        inputs: its arguments; tensors, pytrees of tensors and any other values.
        modes: as in `check_module`: by default the backward and, where the Function defines
            ``jvp``, its forward mode.
        order: as in `check_module`: 2 also checks its double backward.
        contracts: also check the contracts of a custom op (above).
        reference: the same function written plainly, to check ``fn`` against (above).
        options: any option of `gradcheck.check` (``method``, ``eps``, ``seed``...) and
            ``precision`` (``"auto"``, ``"float64"``, ``"native"``).

    Returns:
        A `Report`.

    Raises:
        OptionError: no input or no output is differentiable, or an input is sparse.
        NonFiniteError: an output is NaN or infinite at the inputs given.

    Example:
        >>> import torch, gradcheck.torch
        >>> gradcheck.torch.check_function(torch.sin, torch.randn(5, requires_grad=True)).passed
        True
    """
    torch = _torch()
    seed = _seed(options)
    modes, order = _options.modes(modes), _options.order(order)
    precision = _torch_precision.option(options)
    with torch.random.fork_rng(devices=[]):
        _reseed(seed)
        mode, why = _torch_precision.resolve(
            torch, precision, "the function", lambda: fn(*tree_map(lambda x: _float64(torch, x), inputs))
        )
        given = Inputs(torch, inputs, native=mode == "native")
        _reseed(seed)
        outputs = Outputs(torch, given.probe(fn), seed)
        placement = given.placement(mode)
        params = given.params(placement)
        loss = _FunctionLoss(fn, given, outputs, placement)
        if reference is not None:
            report = _against(torch, reference, inputs, loss, params, seed, options)
        else:
            report = _run(torch, loss, params, seed, options, modes=modes, order=order)
            if report.passed and len(outputs) > 1:
                report = _each_output_alone(torch, loss, params, seed, options, report)
            if contracts:
                report = _torch_contracts.added(torch, report, fn, inputs, seed)
    return _with_precision(report, described(mode, placement.dtypes.values()), why)


def _against(
    torch: Any,
    reference: Callable[..., Any],
    inputs: tuple[Any, ...],
    kernel: _FunctionLoss,
    params: dict[str, np.ndarray],
    seed: int,
    options: dict[str, Any],
) -> Report:
    """The kernel's gradient against ``reference``'s: in float64 (the truth) and in the kernel's
    precision (what rounding alone does), with the same inputs and cotangent."""
    _options.function("reference", reference, signature="taking the same inputs as fn")
    wide = Inputs(torch, inputs)
    in_float64 = Placement(
        {k: torch.float64 for k in kernel.placement.dtypes}, dict(kernel.placement.devices)
    )
    reseed = functools.partial(_reseed, seed)
    reseed()
    truth = _FunctionLoss(reference, wide, kernel.outputs, in_float64).gradient(params)
    reseed()
    rounded = dataclasses.replace(kernel, fn=reference).gradient(params)
    return _check_against(kernel, params, kernel.gradient, truth, rounded, reseed=reseed, **options)


def _each_output_alone(
    torch: Any,
    loss: _FunctionLoss,
    params: dict[str, np.ndarray],
    seed: int,
    options: dict[str, Any],
    report: Report,
) -> Report:
    """Check each differentiable output alone (the others' gradients undefined): the first
    check that fails, with an ``undefined_gradient`` finding, or ``report`` when all pass."""
    checks = [report]
    for j in range(len(loss.outputs)):
        alone = _run(torch, dataclasses.replace(loss, only=j), params, seed, options)
        checks.append(alone)
        if not alone.passed:
            finding = _wording.undefined_gradient(loss.outputs.name(j), alone.wrong_gradients)
            return _counted(dataclasses.replace(alone, findings=(finding, *alone.findings)), checks)
    return _counted(report, checks)


def _counted(report: Report, checks: list[Report]) -> Report:
    """``report`` with the evaluations and seconds of all ``checks`` it stands for."""
    total = dataclasses.replace(
        report.settings,
        evaluations=sum(r.settings.evaluations for r in checks),
        seconds=sum(r.settings.seconds for r in checks),
    )
    return dataclasses.replace(report, settings=total)


def check(
    loss: Callable[[Any], Any],
    params: Any,
    *,
    grad: Any = None,
    modes: Any = None,
    order: int = 1,
    **options: Any,
) -> Report:
    """Check the gradient of ``loss(params) -> scalar tensor`` on a pytree of tensors.

    Args:
        loss: a function of the params (a tensor, or a dict / list / tuple of tensors, nested)
            returning a scalar tensor.
        params: the tensors; components are named by their place (``layers[0].W[3, 2]``).
        grad: the gradient to check (same structure, or a callable ``grad(params)``); by default
            autograd's, which exercises any custom ``torch.autograd.Function`` inside ``loss``.
        modes: as in `check_module` (reverse mode checks ``grad``; forward mode is autodiff's own).
        order: as in `check_module` (the second order is autodiff's own).
        options: any option of `gradcheck.check`.

    Example:
        >>> import torch, gradcheck.torch
        >>> w = {"w": torch.randn(3, dtype=torch.float64)}
        >>> gradcheck.torch.check(lambda p: (p["w"] ** 2).sum(), w, grad=lambda p: {"w": 2 * p["w"]}).passed
        True
    """
    torch = _torch()
    seed = _seed(options)
    modes, order = _options.modes(modes), _options.order(order)
    precision = _torch_precision.option(options)
    with torch.random.fork_rng(devices=[]):
        _reseed(seed)
        mode, why = _torch_precision.resolve(
            torch, precision, "the loss", lambda: loss(tree_map(lambda t: _float64(torch, t), params))
        )
        convert = _float64 if mode == "float64" else _detached
        tensors = tree_map(lambda t: convert(torch, t), params)
        layout = flatten(tree_map(lambda t: _to_numpy(torch, t), tensors))[1]
        leaves = {t.name: _part(_leaf(tensors, t.path), t.part) for t in layout.tensors}
        placement = Placement.of(torch, leaves, mode)
        flat = {name: placement.array(torch, name, leaf) for name, leaf in leaves.items()}
        tree_loss = _TreeLoss(loss, layout, placement)
        given = None if grad is None else tree_loss.given(grad)
        report = _run(torch, tree_loss, flat, seed, options, grad=given, modes=modes, order=order)
    return _with_precision(report, described(mode, (t.dtype for t in leaves.values())), why)


def _seed(options: dict[str, Any]) -> int:
    """The ``seed`` option, validated before it seeds torch's generator."""
    seed = options.get("seed", 0)
    _options.count("seed", seed, minimum=0)
    return int(seed)


def _is_tensor(torch: Any, value: Any) -> bool:
    return isinstance(value, torch.Tensor)


def _run(
    torch: Any,
    loss: _Loss,
    params: dict[str, np.ndarray],
    seed: int,
    options: dict[str, Any],
    grad: Optional[Callable[[dict[str, np.ndarray]], Any]] = None,
    modes: tuple[str, ...] = ("rev",),
    order: int = 1,
) -> Report:
    options = dict(options)
    reseed = functools.partial(_reseed, seed)
    if options.get("workers") is None and options.get("executor") is None and "batched_loss" not in options:
        options["batched_loss"] = _batched_if_vmap_works(torch, loss, params, reseed)
    return _torch_modes.check(torch, loss, params, grad or loss.gradient, reseed, options, modes, order)


def _reseed(seed: int) -> None:
    """Seed the CPU generator only: the one fork_rng restores (torch.manual_seed would also seed,
    and lazily initialise, the CUDA generators, at a cost of about a millisecond per call)."""
    _torch().default_generator.manual_seed(seed)


def _working_copy(torch: Any, model: Any, eval_mode: bool, mode: str) -> Any:
    """A deep copy of the model (float64, or in its own dtypes), with BatchNorm made stateless."""
    work = copy.deepcopy(model)
    if mode == "float64":
        work = work.to(torch.float64)
    if eval_mode:
        work.eval()
    for module in work.modules():
        # In train mode BatchNorm normalises with the batch's statistics and updates running
        # ones as a side effect; the copy keeps the first and drops the second (vmap cannot
        # write batched statistics into one buffer, and no evaluation may change the next).
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and module.training:
            module.track_running_stats = False
            module.running_mean = module.running_var = module.num_batches_tracked = None
    return work


def _float64(torch: Any, value: Any) -> Any:
    return widened(torch, value) if isinstance(value, torch.Tensor) else value


def _detached(torch: Any, value: Any) -> Any:
    """A tensor as it is (dtype and device), cut from the caller's autograd graph."""
    return value.detach() if isinstance(value, torch.Tensor) else value


def _to_numpy(torch: Any, value: Any) -> Any:
    return _torch_precision.to_numpy(torch, value) if _is_tensor(torch, value) else value


def _leaf(tree: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def _module_in_float64(
    torch: Any, model: Any, loss_fn: Callable[..., Any], batch: tuple[Any, ...], seed: int
) -> Any:
    """The model's loss on a float64 copy of model and batch (run once to see what it computes in)."""
    work = copy.deepcopy(model).to(torch.float64)
    inputs = tuple(_float64(torch, b) for b in batch)
    _reseed(seed)
    with torch.no_grad():
        output = work(*inputs[:-1]) if len(inputs) > 1 else work(*inputs)
        return (output, loss_fn(output, inputs[-1]) if len(inputs) > 1 else loss_fn(output))


def _with_precision(report: Report, precision: str, why: str) -> Report:
    """The report with the precision the adapter chose, and why, in its settings."""
    settings = dataclasses.replace(report.settings, precision=precision, precision_reason=why)
    return dataclasses.replace(report, settings=settings)


def _part(value: Any, part: Any) -> Any:
    """A complex tensor's real or imaginary part (``part``), or the tensor itself."""
    return getattr(value, part) if part else value


class _Loss:
    """A picklable loss of a dict of float64 arrays, with its autograd gradient and vmap form.

    ``placement`` turns each array into a tensor of its leaf's dtype on its leaf's device.
    """

    names: Sequence[str]
    placement: Placement

    def plan(self, torch: Any, reseed: Callable[[], Any]) -> Optional[SequentialPlan]:
        """A layer-by-layer evaluation plan, where the structure allows one."""
        return None

    def scalar(self, params: dict[str, Any]) -> Any:
        raise NotImplementedError

    def tensors(self, tree: dict[str, np.ndarray]) -> dict[str, Any]:
        torch = _torch()
        return {k: self.placement.tensor(torch, k, v) for k, v in tree.items()}

    def __call__(self, tree: dict[str, np.ndarray]) -> float:
        torch = _torch()
        with torch.no_grad():
            return float(self.scalar(self.tensors(tree)))

    def gradient(self, tree: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = _torch()
        params = {k: t.requires_grad_(True) for k, t in self.tensors(tree).items()}
        grads = torch.autograd.grad(self.scalar(params), list(params.values()), allow_unused=True)
        return {
            k: self.placement.array(torch, k, _gradient_tensor(torch, g, params[k]))
            for k, g in zip(params, grads, strict=True)
        }


def _gradient_tensor(torch: Any, grad: Any, like: Any) -> Any:
    """An autograd gradient: None (unused) and a ZeroTensor (a known zero) read as zeros, with
    its conjugate and negative bits resolved."""
    if grad is None or grad._is_zerotensor():
        return torch.zeros_like(like)
    return grad.detach().resolve_conj().resolve_neg()


class _ModuleLoss(_Loss):
    def __init__(
        self,
        model: Any,
        loss_fn: Callable[..., Any],
        batch: tuple[Any, ...],
        names: list[str],
        placement: Placement,
    ) -> None:
        self.model, self.loss_fn, self.batch, self.names = model, loss_fn, batch, names
        self.placement = placement

    def plan(self, torch: Any, reseed: Callable[[], Any]) -> Optional[SequentialPlan]:
        # The plan's rank-one updates round differently from the model's own forward, which only
        # float64 makes negligible; it also works on host arrays.
        if not self.placement.on_host_in_float64 or not SequentialPlan.applies(torch, self.model, self.batch):
            return None
        return SequentialPlan(torch, self.model, self.output_loss, self.batch[0], reseed)

    def output_loss(self, output: Any) -> Any:
        """The loss function on the model's output; a narrower output is widened to float64
        first, so that only the model's own arithmetic limits the check."""
        torch = _torch()
        if output.is_floating_point() and output.dtype != torch.float64:
            output = output.to(torch.float64)
        target = self.batch[-1]
        if len(self.batch) > 1 and target.is_floating_point() and target.dtype != torch.float64:
            target = target.to(torch.float64)
        return self.loss_fn(output, target) if len(self.batch) > 1 else self.loss_fn(output)

    def scalar(self, params: dict[str, Any]) -> Any:
        from torch.func import functional_call

        inputs = self.batch[:-1] if len(self.batch) > 1 else self.batch
        return self.output_loss(functional_call(self.model, params, inputs))


@dataclasses.dataclass
class _FunctionLoss(_Loss):
    """Σ v·fn(*inputs) over the differentiable outputs (output ``only`` alone), of the checked
    inputs, each evaluated in its dtype on its device (``placement``)."""

    fn: Callable[..., Any]
    inputs: Inputs
    outputs: Outputs
    placement: Placement
    only: Optional[int] = None

    @property
    def names(self) -> list[str]:  # type: ignore[override]
        return list(self.placement.dtypes)

    def scalar(self, params: dict[str, Any]) -> Any:
        return self.outputs.loss(self.fn(*self.inputs.args(params)), self.only)

    def gradient(self, tree: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            return super().gradient(tree)
        except Exception as error:  # a backward that fails: say which outputs' gradients it had
            alone = (
                f" with only {self.outputs.name(self.only)}'s gradient defined (the other outputs' "
                f"undefined, as a loss that uses it alone leaves them; a backward must read an "
                f"undefined gradient as zeros)"
                if self.only is not None
                else ""
            )
            raise LossRaisedError(
                f"autograd's backward of fn raised {type(error).__name__}({error}){alone}"
            ) from error


class _TreeLoss(_Loss):
    """The user's loss of a pytree of tensors, seen as a loss of a flat dict keyed by path names."""

    def __init__(self, loss: Callable[[Any], Any], layout: Layout, placement: Placement) -> None:
        self.loss, self.layout = loss, layout
        self.names = [t.name for t in layout.tensors]
        self.placement = placement

    def tree(self, flat: dict[str, Any]) -> Any:
        return self.layout.rebuild(lambda t: flat[t.name], join=_torch().complex)

    def scalar(self, params: dict[str, Any]) -> Any:
        value = self.loss(self.tree(params))
        if not _is_tensor(_torch(), value):
            raise LossValueError(
                f"the loss returned {type(value).__name__} {value!r}; with PyTorch params it must "
                f"return a scalar tensor, so that autograd can differentiate it (not float(loss))"
            )
        return value.reshape(())

    def given(self, grad: Any) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
        """The user's gradient (tensors, or a callable of the tensors) as the core expects it."""
        torch = _torch()

        def flat_gradient(tree: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            value = grad(self.tree(self.tensors(tree))) if callable(grad) else grad
            numeric = tree_map(lambda g: _to_numpy(torch, g), value)
            vector, _, _ = match_gradient(self.layout, numeric)
            return {t.name: vector[t.slice].reshape(t.shape) for t in self.layout.tensors}

        return flat_gradient


class _VmapLoss(VmapLoss):
    """The shared vmap core with torch.func.vmap, and an nn.Sequential's layer plan where it applies."""

    def __init__(
        self, torch: Any, loss: _Loss, params: dict[str, np.ndarray], reseed: Callable[[], Any]
    ) -> None:
        super().__init__(list(params), [v.shape for v in params.values()])
        self.torch, self.loss, self.reseed = torch, loss, reseed
        self.plan = loss.plan(torch, reseed)
        self.base = loss.tensors(params)
        self.row_bytes = 8 * (_activation_numel(torch, loss, self.base) + 1)

    def _vmapped(self, batched: dict[str, Any]) -> np.ndarray:
        """The loss for each row of the batched tensors (the others fixed at θ)."""
        from torch.func import vmap

        fixed = {k: v for k, v in self.base.items() if k not in batched}
        self.reseed()
        with self.torch.no_grad():
            out = vmap(lambda p: self.loss.scalar({**fixed, **p}), randomness="same")(batched)
        return out.to(self.torch.float64).cpu().numpy()

    def rows(self, leaves: dict[str, np.ndarray]) -> np.ndarray:
        return self._vmapped(self.loss.tensors(leaves))

    def changes(self, name: str, local: np.ndarray, values: np.ndarray) -> np.ndarray:
        at = self.plan.owner(name) if self.plan is not None else None
        if self.plan is not None and at is not None:
            return self.plan.losses(*at, local, values)
        base = self.base[name]
        out = np.empty(local.size)
        per_call = max(1, CHUNK_BYTES // (base.numel() * 8 + self.row_bytes))
        for start in range(0, local.size, per_call):
            part = slice(start, start + per_call)
            count = len(local[part])
            stack = base.reshape(1, -1).repeat(count, 1)
            which = self.torch.arange(count, device=stack.device)
            at = self.torch.from_numpy(local[part]).to(stack.device)
            stack[which, at] = self.torch.from_numpy(values[part]).to(device=stack.device, dtype=stack.dtype)
            out[part] = self._vmapped({name: stack.reshape(count, *base.shape)})
        return out


def _activation_numel(torch: Any, loss: _Loss, base: dict[str, Any]) -> int:
    """Elements of all module outputs in one forward: the memory one more vmap row needs."""
    total = [0]
    model = getattr(loss, "model", None)
    if model is None:
        return 0

    def count(module: Any, args: Any, output: Any) -> None:
        total[0] += output.numel() if isinstance(output, torch.Tensor) else 0

    handles = [m.register_forward_hook(count) for m in model.modules()]
    try:
        with torch.no_grad():
            loss.scalar(base)
    finally:
        for handle in handles:
            handle.remove()
    return total[0]


def _batched_if_vmap_works(
    torch: Any, loss: _Loss, params: dict[str, np.ndarray], reseed: Callable[[], Any]
) -> Optional[_VmapLoss]:
    """A vmap batched loss, or None (one at a time) when the model or function cannot be vmapped,
    or when vmap computes another function: a batching rule that mixes the rows of a batch (one
    that rolls along the batch dimension) would otherwise pass its error to every difference."""
    batched = _VmapLoss(torch, loss, params, reseed)
    theta, layout = flatten(params)
    try:
        batched(theta[None, :])
    except Exception:  # e.g. an autograd.Function without a vmap rule, or data-dependent control flow
        return None
    return batched if _rows_kept_apart(torch, loss, theta, layout, batched, reseed) else None


def _rows_kept_apart(
    torch: Any,
    loss: _Loss,
    theta: np.ndarray,
    layout: Layout,
    batched: _VmapLoss,
    reseed: Callable[[], Any],
) -> bool:
    """Does a batch of three distinct rows give the losses of three single calls? A probe that
    cannot tell (the loss raises beside θ, or its rows are too close to tell apart in the code's
    precision) keeps vmap, as a probe at θ alone would."""
    eps = max(float(torch.finfo(d).eps) for d in loss.placement.dtypes.values())
    rows = _distinct_rows(theta, eps)
    try:
        together = batched(rows)
        alone = []
        for row in rows:
            reseed()  # as the batched call does: dropout draws the same mask
            alone.append(loss(layout.unflatten(row)))
    except Exception:  # beside θ the loss raises (a Cholesky no longer positive definite)
        return True
    single = np.array(alone)
    # Vectorised and one-at-a-time code round differently by far less than √ε relative (as
    # batched_loss's own consistency check allows); rows a batching rule mixed up differ by
    # more, when their single calls do.
    tolerance = np.sqrt(eps) * np.maximum(np.abs(single), np.abs(together))
    if not np.isfinite(single).all() or np.ptp(single) <= tolerance.max():
        return True
    return bool(np.all(np.abs(together - single) <= tolerance))


def _distinct_rows(theta: np.ndarray, eps: float) -> np.ndarray:
    """θ and two points beside it, θᵢ·(1 ± h) with alternating signs (h absolute where θᵢ = 0;
    non-finite entries stay): rows a batching rule that mixed them up would give away. h is
    2^-10, or ε^¼ in a narrower format, so that θᵢ·h survives rounding to it (ε^¼ ≫ ε)."""
    h = max(2.0**-10, eps**0.25)
    signs = np.where(np.arange(theta.size) % 2, 1.0, -1.0)
    offset = np.where(np.isfinite(theta), h * np.where(theta == 0, 1.0, np.abs(theta)) * signs, 0.0)
    return np.stack([theta, theta + offset, theta - offset])
