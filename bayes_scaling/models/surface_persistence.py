"""Save and load fitted surfaces as one netCDF file (never pickle).

The file is the fit's DataTree (``posterior``, ``sample_stats``, ``log_likelihood``,
``observed_data``, ``constant_data`` and the training table in group ``curves``); its root
attributes (:func:`surface_root_attrs`, written by ``fit``) mark it as a surface
(``bayes_scaling_model`` = :data:`SURFACE_KIND`, ``bayes_scaling_schema_version`` =
:data:`SURFACE_SCHEMA_VERSION`) and hold the constructor settings (``config``), the training
table's hash (``data_hash``, checked on load) and the seed used. Writing and the checks on
opening are those of :mod:`bayes_scaling.models.persistence`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bayes_scaling.exceptions import ModelFileError
from bayes_scaling.models.surface_data import SurfaceData, prepare_surface
from bayes_scaling.models.surface_forms import check_form

if TYPE_CHECKING:
    from bayes_scaling.models.surface import SurfaceModel

#: Value of the ``bayes_scaling_model`` attribute of a saved surface.
SURFACE_KIND = "SurfaceModel"
#: Layout version of saved surfaces.
SURFACE_SCHEMA_VERSION = 1


def surface_root_attrs(model: SurfaceModel, data: SurfaceData, seed: int) -> dict[str, Any]:
    """Root attributes of a fitted surface's DataTree (what :func:`load_surface` checks)."""
    from bayes_scaling import __version__
    from bayes_scaling.curves import curves_hash

    return {
        "bayes_scaling_model": SURFACE_KIND,
        "bayes_scaling_schema_version": SURFACE_SCHEMA_VERSION,
        "bayes_scaling_version": __version__,
        "config": json.dumps(model.get_params(), sort_keys=True),
        "data_hash": curves_hash(data.table),
        "random_seed_used": int(seed),
    }


def save_surface(model: SurfaceModel, path: str | os.PathLike[str]) -> Path:
    """Write a fitted surface as one netCDF file (atomic; never pickle)."""
    from bayes_scaling.models.persistence import write_datatree

    model._check_fitted()
    return write_datatree(model.idata_, path)


def load_surface(path: str | os.PathLike[str], cls: type[SurfaceModel]) -> SurfaceModel:
    """Read a file written by :func:`save_surface`; :class:`ModelFileError` if it is not one."""
    from bayes_scaling.curves import curves_hash
    from bayes_scaling.models.persistence import dataset_to_table, open_checked

    path = Path(path)
    dt = open_checked(path, kind=SURFACE_KIND, version=SURFACE_SCHEMA_VERSION, what="surface")
    attrs = dt.attrs
    try:
        model = cls(**json.loads(attrs["config"]))
        check_form(model.form)
        table = dataset_to_table(dt["curves"].to_dataset())
        data = prepare_surface(table, metric=model.metric)
    except Exception as exc:  # noqa: BLE001 - anything wrong inside means a bad file
        raise ModelFileError(f"{path} holds an invalid surface fit: {exc}") from exc
    if curves_hash(data.table) != str(attrs.get("data_hash")):
        raise ModelFileError(
            f"{path}: the stored training table does not match its data hash; the file was "
            "modified or is corrupt."
        )
    model.data_ = data
    model.model_ = None
    model.idata_ = dt
    model.convergence_ = model._report()
    return model
