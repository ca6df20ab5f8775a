"""PyTorch adapter: check a module's autograd gradients, or any differentiable function of tensors.

Install with ``pip install "gradcheck[torch]"`` (PyTorch pinned to the CPU build ``torch==2.13.0``).
PyTorch is imported when a function here is called, never by ``import gradcheck``.

The numerics run on a float64 deep copy of the model, inside ``torch.random.fork_rng``: your
model, its parameters, their ``.grad``, its buffers (BatchNorm running statistics) and the
global RNG state are exactly as before. Many perturbed parameter vectors are evaluated per
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

from . import _options, _torch_contracts, _torch_modes, _wording
from ._errors import LossRaisedError, LossValueError, OptionError
from ._evaluate._batched import CHUNK_BYTES
from ._report._report import Report
from ._torch_function import Inputs, Outputs, widened
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
    with torch.random.fork_rng(devices=[]):
        work = _float64_copy(torch, model, eval_mode)
        names = [name for name, p in work.named_parameters() if p.requires_grad]
        params = {name: p.detach().numpy().copy() for name, p in work.named_parameters() if p.requires_grad}
        inputs = tuple(_float64(torch, b) for b in batch)
        loss = _ModuleLoss(work, loss_fn, inputs, names)
        return _run(torch, loss, params, seed, options, modes=modes, order=order)


def check_function(
    fn: Callable[..., Any],
    *inputs: Any,
    modes: Any = None,
    order: int = 1,
    contracts: bool = True,
    **options: Any,
) -> Report:
    """Check the autograd gradient of ``fn(*inputs)`` (e.g. a custom ``torch.autograd.Function``).

    The input tensors that require grad are checked (all floating-point and complex ones if none
    does), named ``inputs[i]`` (``inputs[1][0]`` inside a list); inputs may be nested lists,
    tuples and dicts. Complex tensors are checked as their real and imaginary parts
    (``inputs[0].real``) with PyTorch's convention, ``x.grad = ∂J/∂Re x + i·∂J/∂Im x``.
    Non-finite input entries (a -inf mask) are left unperturbed and reported as unchecked.

    The outputs may be any pytree of tensors; the differentiable ones (floating-point or complex,
    requiring grad) are reduced with a seeded random cotangent v (``Σ v·fn(*inputs)``), which
    checks the vector-Jacobian product autograd computes; integer or boolean outputs and
    outputs returned without grad are ignored. With several differentiable outputs, each one is
    then also checked alone, the others' gradients left undefined (as a loss that uses one output
    leaves them): a backward that mishandles an undefined output gradient fails that check, and
    its report comes back with an ``undefined_gradient`` finding.

    ``contracts=True`` (default) also checks what a custom op owes its callers, on clones of the
    inputs in their own dtype and device: inputs not mutated, outputs not aliasing inputs
    undeclared, each gradient with its input's dtype, shape and device, no gradient for integer
    or boolean inputs, zero gradients for a zero upstream gradient, a repeatable backward, and
    vmap of the backward equal to a loop where vmap applies (``contract`` findings, failing).

    Args:
        fn: the function, called as ``fn(*inputs)`` with float64 (complex128) copies.
        inputs: its arguments; tensors, pytrees of tensors and any other values.
        modes: as in `check_module`: by default the backward and, where the Function defines
            ``jvp``, its forward mode.
        order: as in `check_module`: 2 also checks its double backward.
        contracts: also check the contracts of a custom op (above).
        options: any option of `gradcheck.check` (``method``, ``eps``, ``seed``...).

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
    given = Inputs(torch, inputs)
    with torch.random.fork_rng(devices=[]):
        _reseed(seed)
        outputs = Outputs(torch, given.probe(fn), seed)
        params = given.params()
        loss = _FunctionLoss(fn, given, outputs)
        report = _run(torch, loss, params, seed, options, modes=modes, order=order)
        if report.passed and len(outputs) > 1:
            report = _each_output_alone(torch, loss, params, seed, options, report)
        return _torch_contracts.added(torch, report, fn, inputs, seed) if contracts else report


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
    theta, layout = flatten(
        tree_map(lambda t: _float64(torch, t).numpy() if _is_tensor(torch, t) else t, params)
    )
    flat = {t.name: theta[t.slice].reshape(t.shape).copy() for t in layout.tensors}
    with torch.random.fork_rng(devices=[]):
        tree_loss = _TreeLoss(loss, layout)
        given = None if grad is None else tree_loss.given(grad)
        return _run(torch, tree_loss, flat, seed, options, grad=given, modes=modes, order=order)


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


def _float64_copy(torch: Any, model: Any, eval_mode: bool) -> Any:
    work = copy.deepcopy(model).to(torch.float64)
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


class _Loss:
    """A picklable loss of a dict of float64 arrays, with its autograd gradient and vmap form."""

    names: Sequence[str]

    def plan(self, torch: Any, reseed: Callable[[], Any]) -> Optional[SequentialPlan]:
        """A layer-by-layer evaluation plan, where the structure allows one."""
        return None

    def scalar(self, params: dict[str, Any]) -> Any:
        raise NotImplementedError

    def __call__(self, tree: dict[str, np.ndarray]) -> float:
        torch = _torch()
        with torch.no_grad():
            return float(self.scalar({k: torch.from_numpy(v) for k, v in tree.items()}))

    def gradient(self, tree: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = _torch()
        params = {k: torch.tensor(v, requires_grad=True) for k, v in tree.items()}
        grads = torch.autograd.grad(self.scalar(params), list(params.values()), allow_unused=True)
        return {k: _gradient_array(g, tree[k]) for k, g in zip(params, grads, strict=True)}


def _gradient_array(grad: Any, like: np.ndarray) -> np.ndarray:
    """An autograd gradient as NumPy: None (unused) and a ZeroTensor (a known zero) read as zeros."""
    if grad is None or grad._is_zerotensor():
        return np.zeros_like(like)
    return grad.detach().resolve_conj().resolve_neg().numpy()


class _ModuleLoss(_Loss):
    def __init__(
        self, model: Any, loss_fn: Callable[..., Any], batch: tuple[Any, ...], names: list[str]
    ) -> None:
        self.model, self.loss_fn, self.batch, self.names = model, loss_fn, batch, names

    def plan(self, torch: Any, reseed: Callable[[], Any]) -> Optional[SequentialPlan]:
        if not SequentialPlan.applies(torch, self.model, self.batch):
            return None
        return SequentialPlan(torch, self.model, self.output_loss, self.batch[0], reseed)

    def output_loss(self, output: Any) -> Any:
        return self.loss_fn(output, self.batch[-1]) if len(self.batch) > 1 else self.loss_fn(output)

    def scalar(self, params: dict[str, Any]) -> Any:
        from torch.func import functional_call

        if len(self.batch) == 1:
            return self.loss_fn(functional_call(self.model, params, self.batch))
        return self.loss_fn(functional_call(self.model, params, self.batch[:-1]), self.batch[-1])


@dataclasses.dataclass
class _FunctionLoss(_Loss):
    """Σ v·fn(*inputs) over the differentiable outputs (output ``only`` alone), of the checked inputs."""

    fn: Callable[..., Any]
    inputs: Inputs
    outputs: Outputs
    only: Optional[int] = None

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

    def __init__(self, loss: Callable[[Any], Any], layout: Layout) -> None:
        self.loss, self.layout = loss, layout
        self.names = [t.name for t in layout.tensors]

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
            value = (
                grad(self.tree({k: torch.from_numpy(v) for k, v in tree.items()})) if callable(grad) else grad
            )
            numeric = tree_map(lambda g: _float64(torch, g).numpy() if _is_tensor(torch, g) else g, value)
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
        self.base = {k: torch.from_numpy(v.copy()) for k, v in params.items()}
        self.row_bytes = 8 * (_activation_numel(torch, loss, self.base) + 1)

    def _vmapped(self, batched: dict[str, Any]) -> np.ndarray:
        """The loss for each row of the batched tensors (the others fixed at θ)."""
        from torch.func import vmap

        fixed = {k: v for k, v in self.base.items() if k not in batched}
        self.reseed()
        with self.torch.no_grad():
            out = vmap(lambda p: self.loss.scalar({**fixed, **p}), randomness="same")(batched)
        return out.numpy()

    def rows(self, leaves: dict[str, np.ndarray]) -> np.ndarray:
        return self._vmapped({k: self.torch.from_numpy(v) for k, v in leaves.items()})

    def changes(self, name: str, local: np.ndarray, values: np.ndarray) -> np.ndarray:
        at = self.plan.owner(name) if self.plan is not None else None
        if self.plan is not None and at is not None:
            return self.plan.losses(*at, local, values)
        base = self.base[name]
        out = np.empty(local.size)
        rows = max(1, CHUNK_BYTES // (base.numel() * 8 + self.row_bytes))
        for start in range(0, local.size, rows):
            part = slice(start, start + rows)
            count = len(local[part])
            stack = base.reshape(1, -1).repeat(count, 1)
            stack[self.torch.arange(count), self.torch.from_numpy(local[part])] = self.torch.from_numpy(
                values[part]
            )
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
    """A vmap batched loss, or None (one at a time) when the model or function cannot be vmapped."""
    batched = _VmapLoss(torch, loss, params, reseed)
    theta = np.concatenate([v.reshape(-1) for v in params.values()])
    try:
        batched(theta[None, :])
    except Exception:  # e.g. an autograd.Function without a vmap rule, or data-dependent control flow
        return None
    return batched
