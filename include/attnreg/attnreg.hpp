// attnreg/attnreg.hpp: includes every public header.
#pragma once

#include <attnreg/backend.hpp>
#include <attnreg/classes.hpp>
#include <attnreg/dtype.hpp>
#include <attnreg/errors.hpp>
#include <attnreg/legacy.hpp>
#include <attnreg/platform.hpp>
#include <attnreg/plugin.hpp>
#include <attnreg/registry.hpp>
#include <attnreg/selector.hpp>
#include <attnreg/version.hpp>
