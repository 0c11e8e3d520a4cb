// A strict checker for the HTML subset delve's report writes (experiments/plot/report.h), stricter
// than browsers are, so that the page reads the same in any of them and in mail clients: the
// doctype first; every element closed in order (self-closing only for HTML's void elements and
// inside inline SVG); every attribute name="value" with double quotes; text and attribute values
// with '&' only in an entity and no bare '<' or '>'.
#pragma once
#include <cctype>
#include <string>
#include <vector>

namespace delve::test {

namespace html_detail {

inline bool is_void_element(const std::string& name) {
  return name == "meta" || name == "br" || name == "hr" || name == "img" || name == "link" || name == "col" ||
         name == "wbr" || name == "input";
}

// "" when `text` (element content or an attribute value) is properly escaped.
inline std::string text_problem(const std::string& text, size_t offset) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<' || text[i] == '>') return "bare '" + std::string(1, text[i]) + "' at " + std::to_string(offset + i);
    if (text[i] != '&') continue;
    const size_t semi = text.find(';', i);
    const std::string entity = semi == std::string::npos ? "" : text.substr(i, semi - i + 1);
    const bool numeric = entity.size() > 3 && entity[1] == '#' &&
                         entity.find_first_not_of("0123456789", 2) == entity.size() - 1;
    if (!numeric && entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;" &&
        entity != "&apos;")
      return "bare '&' at " + std::to_string(offset + i);
  }
  return "";
}

// Checks the attributes of one tag (the text between the name and '>' or '/>').
inline std::string attributes_problem(const std::string& attrs, size_t offset) {
  size_t i = 0;
  while (i < attrs.size()) {
    if (std::isspace(static_cast<unsigned char>(attrs[i]))) {
      ++i;
      continue;
    }
    const size_t name_end = attrs.find_first_of("= \t\n\"", i);
    if (name_end == i || name_end == std::string::npos || attrs[name_end] != '=')
      return "attribute without a value at " + std::to_string(offset + i);
    if (name_end + 1 >= attrs.size() || attrs[name_end + 1] != '"')
      return "unquoted attribute value at " + std::to_string(offset + name_end);
    const size_t close = attrs.find('"', name_end + 2);
    if (close == std::string::npos) return "unterminated attribute value at " + std::to_string(offset + name_end);
    const std::string value = attrs.substr(name_end + 2, close - name_end - 2);
    if (std::string p = text_problem(value, offset + name_end + 2); !p.empty()) return p;
    i = close + 1;
    if (i < attrs.size() && !std::isspace(static_cast<unsigned char>(attrs[i])))
      return "no space between attributes at " + std::to_string(offset + i);
  }
  return "";
}

}  // namespace html_detail

// "" when `html` is well-formed in the subset above, else what is wrong and where.
inline std::string html_problem(const std::string& html) {
  const std::string doctype = "<!DOCTYPE html>\n";
  if (html.compare(0, doctype.size(), doctype) != 0) return "no <!DOCTYPE html> first";
  std::vector<std::string> open;
  size_t i = doctype.size(), svg_depth = 0;
  bool seen_root = false;
  while (i < html.size()) {
    const size_t lt = html.find('<', i);
    const std::string text = html.substr(i, (lt == std::string::npos ? html.size() : lt) - i);
    if (std::string p = html_detail::text_problem(text, i); !p.empty()) return p;
    if (lt == std::string::npos) break;
    const size_t gt = html.find('>', lt);
    if (gt == std::string::npos) return "unterminated tag at " + std::to_string(lt);
    std::string tag = html.substr(lt + 1, gt - lt - 1);
    if (tag.find('<') != std::string::npos) return "'<' inside a tag at " + std::to_string(lt);
    i = gt + 1;
    const bool closing = !tag.empty() && tag[0] == '/';
    const bool self_closing = !tag.empty() && tag.back() == '/';
    if (closing) tag.erase(0, 1);
    if (self_closing) tag.pop_back();
    const size_t name_end = std::min(tag.find_first_of(" \t\n"), tag.size());
    const std::string name = tag.substr(0, name_end);
    if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0])) ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != std::string::npos)
      return "bad tag name '" + name + "' at " + std::to_string(lt);
    if (closing) {
      if (name_end != tag.size() || self_closing) return "a closing tag with attributes at " + std::to_string(lt);
      if (open.empty() || open.back() != name) return "unexpected </" + name + "> at " + std::to_string(lt);
      open.pop_back();
      if (name == "svg") --svg_depth;
      continue;
    }
    if (std::string p = html_detail::attributes_problem(tag.substr(name_end), lt + 1 + name_end); !p.empty()) return p;
    if (self_closing && svg_depth == 0 && !html_detail::is_void_element(name))
      return "<" + name + "/> is not a void element at " + std::to_string(lt);
    if (!self_closing && html_detail::is_void_element(name)) return "void <" + name + "> not self-closed at " + std::to_string(lt);
    if (open.empty() && (name != "html" || self_closing || seen_root))
      return "<" + name + "> outside the one <html> element at " + std::to_string(lt);
    seen_root = true;
    if (self_closing) continue;
    open.push_back(name);
    if (name == "svg") ++svg_depth;
  }
  if (!open.empty()) return "<" + open.back() + "> never closed";
  return seen_root ? "" : "no <html> element";
}

}  // namespace delve::test
