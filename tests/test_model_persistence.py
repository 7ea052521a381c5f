"""Save/load of fitted models: exact round trip, clear errors for bad files, no pickle."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _model_fits import standard_fit

from bayes_scaling.exceptions import ModelFileError
from bayes_scaling.models import ScalingLawModel, load_model
from bayes_scaling.models.persistence import SCHEMA_VERSION

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto"),
]
N_NEW = [50.0, 1e6]


@pytest.fixture(scope="module")
def model():
    return standard_fit()


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "fit.nc"
    assert model.save(path) == path
    return path


@pytest.fixture(scope="module")
def loaded(saved):
    return ScalingLawModel.load(saved)


def _rewrite(src, dst, change):
    dt = xr.open_datatree(src, engine="h5netcdf").load()
    change(dt)
    dt.to_netcdf(dst, engine="h5netcdf")
    return dst


def test_file_is_netcdf_hdf5(saved):
    assert saved.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    assert not list(saved.parent.glob(".*.tmp"))  # atomic write left nothing behind


def test_round_trip_posterior(model, loaded):
    for group in ("posterior", "sample_stats", "log_likelihood", "observed_data", "constant_data"):
        a, b = model.idata[group].to_dataset(), loaded.idata[group].to_dataset()
        assert set(a.data_vars) == set(b.data_vars), group
        for v in a.data_vars:
            np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=f"{group}/{v}")
    assert loaded.get_params() == model.get_params()
    assert loaded.curve_ids_ == model.curve_ids_
    assert loaded.groups_ == model.groups_
    assert loaded.n_ref_ == model.n_ref_
    assert loaded.random_seed_ == model.random_seed_
    pd.testing.assert_frame_equal(loaded.curves_, model.curves_)


def test_round_trip_summary_predictions_and_report(model, loaded):
    pd.testing.assert_frame_equal(loaded.summary(), model.summary())
    for kw in ({}, {"kind": "observation"}, {"scale": "original", "random_seed": 5}):
        pd.testing.assert_frame_equal(loaded.predict(N_NEW, **kw), model.predict(N_NEW, **kw))
    new = pd.DataFrame({"property": ["p1"], "database": ["db0"], "strategy": ["feature"]})
    pd.testing.assert_frame_equal(loaded.predict(N_NEW, new), model.predict(N_NEW, new))
    pd.testing.assert_frame_equal(
        loaded.gap_probability([0.05, 0.2]), model.gap_probability([0.05, 0.2])
    )
    pd.testing.assert_frame_equal(loaded.convergence.table, model.convergence.table)
    assert loaded.convergence.divergences == model.convergence.divergences
    assert loaded.loo().elpd == pytest.approx(model.loo().elpd, rel=1e-12)


def test_loaded_model_rebuilds_its_graph(loaded):
    assert {rv.name for rv in loaded.model.free_RVs} >= {"mu", "theta_raw", "log_sigma"}


def test_load_model_function_and_resave(loaded, tmp_path):
    again = loaded.save(tmp_path / "again.nc")
    m2 = load_model(again)
    pd.testing.assert_frame_equal(m2.summary(level="curve"), loaded.summary(level="curve"))


def test_never_pickles(model, saved, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("pickle used")

    for name in ("dump", "dumps", "load", "loads"):
        monkeypatch.setattr(pickle, name, boom)
    model.save(tmp_path / "nopickle.nc")
    ScalingLawModel.load(tmp_path / "nopickle.nc")
    assert b"pickle" not in saved.read_bytes().lower()


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        ScalingLawModel.load(tmp_path / "nothing.nc")


def test_corrupt_file(saved, tmp_path):
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"this is not a netCDF file\x00\x01" * 10)
    with pytest.raises(ModelFileError, match="not a readable netCDF/HDF5 file"):
        ScalingLawModel.load(junk)
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(saved.read_bytes()[:2000])
    with pytest.raises(ModelFileError, match="Could not read model file"):
        ScalingLawModel.load(truncated)


def test_foreign_netcdf(tmp_path):
    path = tmp_path / "foreign.nc"
    xr.Dataset({"x": ("t", np.arange(3.0))}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ModelFileError, match="not a bayes_scaling model file"):
        ScalingLawModel.load(path)


def test_wrong_schema_version(saved, tmp_path):
    def bump(dt):
        dt.attrs["bayes_scaling_schema_version"] = SCHEMA_VERSION + 1

    path = _rewrite(saved, tmp_path / "v2.nc", bump)
    with pytest.raises(ModelFileError, match=f"schema version {SCHEMA_VERSION + 1}"):
        ScalingLawModel.load(path)


def test_tampered_training_data(saved, tmp_path):
    def tamper(dt):
        ds = dt["curves"].to_dataset()
        ds["error"] = ds["error"] * 1.01
        dt["curves"] = xr.DataTree(ds)

    path = _rewrite(saved, tmp_path / "tampered.nc", tamper)
    with pytest.raises(ModelFileError, match="do not match the recorded data hash"):
        ScalingLawModel.load(path)


def test_tampered_hash_attribute(saved, tmp_path):
    def tamper(dt):
        dt.attrs["data_hash"] = "0" * 16

    path = _rewrite(saved, tmp_path / "hash.nc", tamper)
    with pytest.raises(ModelFileError, match="data hash"):
        ScalingLawModel.load(path)


def test_incomplete_and_malformed_files(saved, tmp_path):
    def drop_posterior(dt):
        del dt["posterior"]

    path = _rewrite(saved, tmp_path / "nopost.nc", drop_posterior)
    with pytest.raises(ModelFileError, match="lacks group"):
        ScalingLawModel.load(path)

    def bad_config(dt):
        dt.attrs["config"] = '{"law": "exponential"}'

    path = _rewrite(saved, tmp_path / "config.nc", bad_config)
    with pytest.raises(ModelFileError, match="invalid model configuration"):
        ScalingLawModel.load(path)

    def no_seed(dt):
        del dt.attrs["predict_seed"]

    path = _rewrite(saved, tmp_path / "attrs.nc", no_seed)
    with pytest.raises(ModelFileError, match="missing or malformed root attributes"):
        ScalingLawModel.load(path)

    def other_groups(dt):
        dt.attrs["groups_used"] = '["property"]'

    path = _rewrite(saved, tmp_path / "groups.nc", other_groups)
    with pytest.raises(ModelFileError, match="fitted with grouping columns"):
        ScalingLawModel.load(path)
