"""A DLPack tensor that claims to live on a CUDA device, for tests without a GPU.

It exports host memory (a numpy array it keeps alive) under device type
kDLCUDA, so a backend's device check can be exercised; a correct backend
refuses it before reading a byte.
"""

from __future__ import annotations

import ctypes

import numpy as np

KDL_CUDA = 2


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", _DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", _DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


class FakeCudaTensor:
    """Exports `like`'s memory, shape and float dtype as a CUDA device tensor."""

    def __init__(self, like: np.ndarray):
        self._array = np.ascontiguousarray(like)
        ndim = self._array.ndim
        self._shape = (ctypes.c_int64 * ndim)(*self._array.shape)
        self._strides = (ctypes.c_int64 * ndim)(*(s // self._array.itemsize for s in self._array.strides))
        self._managed = _DLManagedTensor()
        t = self._managed.dl_tensor
        t.data = self._array.ctypes.data
        t.device = _DLDevice(KDL_CUDA, 0)
        t.ndim = ndim
        t.dtype = _DLDataType(2, self._array.itemsize * 8, 1)  # kDLFloat
        t.shape = self._shape
        t.strides = self._strides
        self._managed.deleter = None  # the memory belongs to this object

    def __dlpack_device__(self):
        return (KDL_CUDA, 0)

    def __dlpack__(self, *args, **kwargs):
        return _capsule_new(ctypes.addressof(self._managed), b"dltensor", None)
