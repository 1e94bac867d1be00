// The scaffolder form as Backstage's Stepper (@backstage/plugin-scaffolder-react, next/components/
// Stepper) runs it, without Backstage's app shell: one react-jsonschema-form per parameter page,
// the page's "ui:*" keys split off into its uiSchema (extractSchemaFromStep), formData the state
// of every page so far, the ajv8 validator from customizeValidator() with ajv-errors added,
// showErrorList "top", defaults populated through allOf, and "Next" moving on only when the page
// validates. Field extensions (OwnerPicker) are Backstage frontend components that need a
// catalog API; without them rjsf renders the field by its schema type (a text box).
//
// The page reads window.TEMPLATE_PARAMETERS (the template's spec.parameters) and, once the last
// page is submitted, sets window.SUBMITTED to the collected values.
import React, { useState } from "react";
import { createRoot } from "react-dom/client";
import Form from "@rjsf/core";
import { customizeValidator } from "@rjsf/validator-ajv8";
import ajvErrors from "ajv-errors";

const validator = customizeValidator();
ajvErrors(validator.ajv);

function extractUi(node) {
  if (node === null || typeof node !== "object" || Array.isArray(node)) {
    return { schema: node, uiSchema: {} };
  }
  const schema = {};
  const uiSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith("ui:")) uiSchema[key] = value;
    else schema[key] = value;
  }
  if (schema.properties) {
    const properties = {};
    for (const [name, sub] of Object.entries(schema.properties)) {
      const split = extractUi(sub);
      properties[name] = split.schema;
      if (Object.keys(split.uiSchema).length) uiSchema[name] = split.uiSchema;
    }
    schema.properties = properties;
  }
  if (schema.items) {
    const split = extractUi(schema.items);
    schema.items = split.schema;
    if (Object.keys(split.uiSchema).length) uiSchema.items = split.uiSchema;
  }
  return { schema, uiSchema };
}

function Stepper({ pages }) {
  const [active, setActive] = useState(0);
  const [state, setState] = useState({});
  if (active >= pages.length) {
    return <pre id="review">{JSON.stringify(state, null, 2)}</pre>;
  }
  const { schema, uiSchema } = extractUi(pages[active]);
  return (
    <div>
      <h2 id="step-title">{`Step ${active + 1} of ${pages.length}: ${schema.title}`}</h2>
      <Form
        key={active}
        schema={schema}
        uiSchema={uiSchema}
        formData={state}
        validator={validator}
        showErrorList="top"
        experimental_defaultFormStateBehavior={{ allOf: "populateDefaults" }}
        onChange={(event) => setState((current) => ({ ...current, ...event.formData }))}
        onSubmit={({ formData }) => {
          const next = { ...state, ...formData };
          setState(next);
          if (active + 1 >= pages.length) window.SUBMITTED = next;
          setActive(active + 1);
        }}
      >
        <button type="submit" id="next">{active + 1 >= pages.length ? "Review" : "Next"}</button>
      </Form>
    </div>
  );
}

createRoot(document.getElementById("app")).render(
  <Stepper pages={window.TEMPLATE_PARAMETERS} />,
);
