// The dashboard page (daemon/http/dashboard/index.html), compiled in by CMake so
// that carbond serves it without reading files at run time.
#pragma once

namespace carbon {
extern const char* const kDashboardHtml;
}  // namespace carbon
