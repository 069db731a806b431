// Percent-encoding of a URL's query value or path segment (RFC 3986): what
// carbonctl puts in the API's request targets and what carbond puts in the
// intensity providers' URLs. The API's ParseTarget (proto-less-api/api.h)
// decodes it.
#pragma once

#include <string>

namespace carbon {

// RFC 3986's unreserved characters (letters, digits, - _ . ~) stay, '/' too
// when keep_slash; every other byte becomes %XX (upper-case hex).
std::string PercentEncode(const std::string& s, bool keep_slash = false);

}  // namespace carbon
