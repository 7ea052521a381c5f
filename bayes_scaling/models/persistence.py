"""Save and load fitted models as one netCDF file (never pickle).

The file is the fit's DataTree (``posterior``, ``sample_stats``, ``log_likelihood``,
``observed_data``, ``constant_data``) plus the training curve table in its own group
``curves``. Root attributes (:func:`root_attrs`, written by ``fit``) hold:

``bayes_scaling_model``
    ``"ScalingLawModel"`` (marks the file as ours).
``bayes_scaling_schema_version``
    :data:`SCHEMA_VERSION`; a different version is refused with :class:`ModelFileError`.
``config``
    The constructor settings as a JSON string (priors included).
``data_hash``
    :func:`bayes_scaling.curves.curves_hash` of the training table; checked on load.
``log_n_ref``, ``groups_used``, ``dropped_groups``, ``random_seed_used``, ``predict_seed``
    Fitted state needed to rebuild predictions.

Writing is atomic (temporary file + rename), so an interrupted save never leaves a
half-written model behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.curves import curves_hash, validate_curves
from bayes_scaling.exceptions import BayesScalingError, CurveSchemaError, ModelFileError

if TYPE_CHECKING:
    from bayes_scaling.models.hierarchical import ScalingLawModel

#: Value of the ``bayes_scaling_model`` root attribute.
MODEL_KIND = "ScalingLawModel"
#: Version of the file layout; bump on incompatible changes.
SCHEMA_VERSION = 1
_REQUIRED_GROUPS = ("posterior", "sample_stats", "log_likelihood", "curves")
_NULLABLE_INT = ("m", "n_train", "n_test")


def table_to_dataset(table: pd.DataFrame) -> xr.Dataset:
    """Store a curve table as a Dataset over ``row`` (nullable ints as float with NaN)."""
    data = {}
    for col in table.columns:
        s = table[col]
        if col in _NULLABLE_INT or str(s.dtype) == "Int64":
            data[col] = (
                "row",
                s.astype("Float64").to_numpy(dtype=float, na_value=np.nan),
                {"nullable_int": 1},
            )
        elif s.dtype == object or pd.api.types.is_string_dtype(s):
            data[col] = ("row", s.astype(str).to_numpy(dtype=object))
        else:
            data[col] = ("row", s.to_numpy())
    ds = xr.Dataset(data, coords={"row": np.arange(len(table))})
    ds.attrs["columns"] = json.dumps(list(table.columns))
    return ds


def dataset_to_table(ds: xr.Dataset) -> pd.DataFrame:
    """Inverse of :func:`table_to_dataset`."""
    cols = json.loads(ds.attrs["columns"])
    out = {}
    for col in cols:
        v = ds[col]
        if v.attrs.get("nullable_int"):
            out[col] = pd.array([pd.NA if np.isnan(x) else int(x) for x in v.values], dtype="Int64")
        else:
            out[col] = v.values
    return pd.DataFrame(out)


def write_datatree(dt: xr.DataTree, path: str | os.PathLike[str]) -> Path:
    """Write a DataTree (attributes included) to ``path`` as netCDF4/HDF5, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = dt.copy()
    out.attrs = dict(dt.attrs)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        out.to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def root_attrs(model: ScalingLawModel, data: Any) -> dict[str, Any]:
    """Root attributes of a fit's DataTree (see the module docstring), written by ``fit``.

    ``data`` is the fit's prepared :class:`~bayes_scaling.models._data.CurveData`;
    ``model`` must hold ``random_seed_`` and the prediction seed.
    """
    from bayes_scaling import __version__

    return {
        "bayes_scaling_model": MODEL_KIND,
        "bayes_scaling_schema_version": SCHEMA_VERSION,
        "bayes_scaling_version": __version__,
        "config": json.dumps(model.get_params(), sort_keys=True),
        "data_hash": curves_hash(data.table),
        "log_n_ref": float(data.log_n_ref),
        "groups_used": json.dumps([g.column for g in data.groups]),
        "dropped_groups": json.dumps(data.dropped_groups),
        "random_seed_used": int(model.random_seed_),
        "predict_seed": int(model._predict_seed),
    }


def save_model(model: ScalingLawModel, path: str | os.PathLike[str]) -> Path:
    """Write a fitted model to ``path`` (netCDF4/HDF5 via h5netcdf), atomically."""
    return write_datatree(model.idata, path)


def open_checked(
    path: str | os.PathLike[str], *, kind: str, version: int, what: str = "model"
) -> xr.DataTree:
    """Open a saved fit and check its ``bayes_scaling_model`` kind and schema version.

    Raises
    ------
    ModelFileError
        Missing, unreadable, foreign (another kind) or other-version file.

    """
    path = Path(path)
    dt = _open(path)
    attrs = dt.attrs
    if attrs.get("bayes_scaling_model") != kind:
        raise ModelFileError(
            f"{path} is not a bayes_scaling {what} file (root attribute "
            f"'bayes_scaling_model' is {attrs.get('bayes_scaling_model')!r}, expected "
            f"{kind!r})."
        )
    stored = attrs.get("bayes_scaling_schema_version")
    try:
        stored_int = int(stored)
    except (TypeError, ValueError):
        stored_int = None
    if stored_int != version:
        shown = stored.item() if isinstance(stored, np.generic) else stored
        raise ModelFileError(
            f"{path} has {what} schema version {shown!r}; this bayes_scaling reads version "
            f"{version}. Refit the {what} or use the matching bayes_scaling version."
        )
    return dt


def _open(path: Path) -> xr.DataTree:
    if not path.is_file():
        raise ModelFileError(f"Model file {path} does not exist.")
    try:
        dt = xr.open_datatree(path, engine="h5netcdf")
        dt = dt.load()
        dt.close()
    except Exception as exc:  # noqa: BLE001 - any reader failure means a corrupt/foreign file
        raise ModelFileError(
            f"Could not read model file {path}: not a readable netCDF/HDF5 file ({exc})."
        ) from exc
    return dt


def load_model(path: str | os.PathLike[str], cls: type[ScalingLawModel] | None = None) -> Any:
    """Read a model written by :func:`save_model`; raises :class:`ModelFileError` if invalid."""
    from bayes_scaling.models._data import prepare
    from bayes_scaling.models.diagnostics import ConvergenceReport

    if cls is None:
        from bayes_scaling.models.hierarchical import ScalingLawModel as cls  # noqa: N813
    path = Path(path)
    dt = open_checked(path, kind=MODEL_KIND, version=SCHEMA_VERSION)
    attrs = dt.attrs
    missing = [g for g in _REQUIRED_GROUPS if g not in dt.children]
    if missing:
        raise ModelFileError(f"{path} lacks group(s) {missing}; the file is incomplete.")
    try:
        config = json.loads(attrs["config"])
        log_n_ref = float(attrs["log_n_ref"])
        seed = int(attrs["random_seed_used"])
        predict_seed = int(attrs["predict_seed"])
        stored_hash = str(attrs["data_hash"])
        groups_used = json.loads(attrs["groups_used"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path} has missing or malformed root attributes: {exc}.") from exc
    try:
        model = cls(**config)
        model._resolved()
    except (TypeError, BayesScalingError) as exc:
        raise ModelFileError(f"{path} holds an invalid model configuration: {exc}") from exc
    try:
        table = validate_curves(dataset_to_table(dt["curves"].to_dataset()))
    except (CurveSchemaError, KeyError, ValueError) as exc:
        raise ModelFileError(f"{path} holds an unreadable training curve table: {exc}") from exc
    if curves_hash(table) != stored_hash:
        raise ModelFileError(
            f"{path}: the stored training curves do not match the recorded data hash "
            f"{stored_hash}; the file was modified or is corrupt."
        )
    data = prepare(table, model.groups)
    if abs(data.log_n_ref - log_n_ref) > 1e-9:
        raise ModelFileError(f"{path}: inconsistent reference size; the file is corrupt.")
    if [g.column for g in data.groups] != groups_used:
        raise ModelFileError(
            f"{path} was fitted with grouping columns {groups_used}, but this bayes_scaling "
            f"derives {[g.column for g in data.groups]} from the stored curves; refit the model."
        )
    model.data_ = data
    model.model_ = None
    model.random_seed_ = seed
    model._predict_seed = predict_seed
    model.idata_ = dt
    model.target_accept_ = float(attrs.get("target_accept_used", float("nan")))
    model.centring_used_ = str(attrs.get("centring_used", model.centring))
    model.convergence_ = ConvergenceReport.from_idata(dt)
    return model
