// attnreg/attnreg.hpp: includes every public header.
#pragma once

#include <attnreg/backend.hpp>
#include <attnreg/classes.hpp>
#include <attnreg/device_memory.hpp>
#include <attnreg/dtype.hpp>
#include <attnreg/errors.hpp>
#include <attnreg/forward_args.hpp>
#include <attnreg/legacy.hpp>
#include <attnreg/numeric.hpp>
#include <attnreg/platform.hpp>
#include <attnreg/plugin.hpp>
#include <attnreg/reference.hpp>
#include <attnreg/registry.hpp>
#include <attnreg/selector.hpp>
#include <attnreg/synthetic_batch.hpp>
#include <attnreg/tensor.hpp>
#include <attnreg/version.hpp>
